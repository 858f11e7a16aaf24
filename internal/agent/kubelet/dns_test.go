package kubelet

import (
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The sandbox configuration carries the pod's DNS configuration, made from
// the kubelet's cluster DNS and the node's resolv.conf.
func TestSandboxConfigDNS(t *testing.T) {
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 192.168.1.1\nsearch corp.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &podManager{
		cfg: &Config{DataDir: dir, ResolvConf: resolv, ClusterDomain: "cluster.local",
			ClusterDNS: []netip.Addr{netip.MustParseAddr("10.43.0.10")}},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "p", UID: "u"}, Spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}}
	dns := m.sandboxConfig(pod, 0).DnsConfig
	if dns == nil || !slices.Equal(dns.Servers, []string{"10.43.0.10"}) ||
		!slices.Equal(dns.Searches, []string{"prod.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}) ||
		!slices.Equal(dns.Options, []string{"ndots:5"}) {
		t.Errorf("ClusterFirst DnsConfig = %v", dns)
	}
	pod.Spec.DNSPolicy = corev1.DNSDefault
	if dns := m.sandboxConfig(pod, 0).DnsConfig; dns == nil || !slices.Equal(dns.Servers, []string{"192.168.1.1"}) {
		t.Errorf("Default DnsConfig = %v", dns)
	}
	m.cfg.ClusterDNS = nil
	pod.Spec.DNSPolicy = corev1.DNSClusterFirst
	if events := m.podDNSEvents(pod); len(events) != 1 || events[0].Reason != "MissingClusterDNS" {
		t.Errorf("no cluster DNS: events %v, want MissingClusterDNS", events)
	}
}
