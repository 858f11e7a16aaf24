package kubelet

import (
	"log/slog"
	"os"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff.dev/skiff/internal/agent/poddns"
)

// podDNSConfig computes the pod's DNS configuration (poddns.ForPod) from
// the node's resolv.conf as it is now. A resolv.conf that cannot be read
// counts as empty, as an unknown dnsPolicy gives none (validation keeps
// both from happening).
func (m *podManager) podDNSConfig(pod *corev1.Pod) (*runtimeapi.DNSConfig, []poddns.Event) {
	var host poddns.Host
	if f, err := os.Open(m.cfg.ResolvConf); err == nil {
		host, err = poddns.ParseResolvConf(f)
		f.Close()
		if err != nil {
			m.log.Warn("node resolv.conf", "path", m.cfg.ResolvConf, "err", err)
		}
	} else {
		m.log.Warn("node resolv.conf", "path", m.cfg.ResolvConf, "err", err)
	}
	cfg, events, err := poddns.ForPod(pod, poddns.Cluster{DNS: m.cfg.ClusterDNS, Domain: m.cfg.ClusterDomain}, host)
	if err != nil {
		m.log.Warn("pod DNS configuration", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return nil, nil
	}
	return cfg, events
}

// podDNS is the DnsConfig of the pod's sandbox.
func (m *podManager) podDNS(pod *corev1.Pod) *runtimeapi.DNSConfig {
	cfg, _ := m.podDNSConfig(pod)
	return cfg
}

// podDNSEvents are the Warning events computing the pod's DNS
// configuration gives (recorded when its sandbox is created).
func (m *podManager) podDNSEvents(pod *corev1.Pod) []poddns.Event {
	_, events := m.podDNSConfig(pod)
	return events
}

// defaultResolvConf is the node's resolv.conf for pods: /etc/resolv.conf,
// unless it names only loopback servers (a local stub that pods, in their
// own network namespaces, cannot reach) and systemd-resolved's list of the
// real servers exists.
func defaultResolvConf(log *slog.Logger) string {
	const etc = "/etc/resolv.conf"
	f, err := os.Open(etc)
	if err != nil {
		return etc
	}
	host, err := poddns.ParseResolvConf(f)
	f.Close()
	if err != nil || !host.OnlyLoopback() {
		return etc
	}
	if _, err := os.Stat(poddns.SystemdResolvConf); err == nil {
		log.Info("pods get systemd-resolved's upstream servers: /etc/resolv.conf names only loopback ones", "resolvConf", poddns.SystemdResolvConf)
		return poddns.SystemdResolvConf
	}
	log.Warn("/etc/resolv.conf names only loopback nameservers: pods with dnsPolicy Default cannot reach them", "nameservers", host.Nameservers)
	return etc
}
