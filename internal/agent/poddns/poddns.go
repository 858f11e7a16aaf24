// Package poddns computes a pod's DNS configuration (its resolv.conf: name
// servers, search domains, options) from its dnsPolicy and dnsConfig, the
// cluster DNS and the node's resolv.conf, as the kubelet does. The kubelet
// hands the result to the runtime in PodSandboxConfig.DnsConfig.
package poddns

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The kubelet's limits on a resolv.conf (those of glibc and musl).
const (
	// MaxNameservers is how many nameservers a resolver reads.
	MaxNameservers = 3
	// MaxSearchPaths and MaxSearchChars bound the search line.
	MaxSearchPaths = 32
	MaxSearchChars = 2048
)

// Event reasons, as the kubelet's.
const (
	// ReasonMissingClusterDNS: a pod asks for the cluster DNS on a node
	// that has none configured; it gets the node's resolv.conf.
	ReasonMissingClusterDNS = "MissingClusterDNS"
	// ReasonDNSConfigForming: the pod's configuration went over a limit
	// and was cut.
	ReasonDNSConfigForming = "DNSConfigForming"
)

// Host is a parsed resolv.conf.
type Host struct {
	Nameservers, Searches, Options []string
}

// ParseResolvConf reads a resolv.conf: its nameserver lines, its last
// search line (trailing dots dropped, "." left out) and its options.
func ParseResolvConf(r io.Reader) (Host, error) {
	var h Host
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if len(fields) > 1 {
				h.Nameservers = append(h.Nameservers, fields[1])
			}
		case "search":
			h.Searches = h.Searches[:0]
			for _, s := range fields[1:] {
				if s != "." {
					h.Searches = append(h.Searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			h.Options = append(h.Options, fields[1:]...)
		}
	}
	if err := sc.Err(); err != nil {
		return h, fmt.Errorf("read resolv.conf: %w", err)
	}
	return h, nil
}

// SystemdResolvConf is where systemd-resolved keeps the resolv.conf of the
// real upstream servers, when /etc/resolv.conf points at its loopback stub.
const SystemdResolvConf = "/run/systemd/resolve/resolv.conf"

// OnlyLoopback says whether every nameserver of h is a loopback address
// (a local stub such as systemd-resolved's 127.0.0.53), which a pod in its
// own network namespace cannot reach; false when h has none.
func (h Host) OnlyLoopback() bool {
	if len(h.Nameservers) == 0 {
		return false
	}
	for _, ns := range h.Nameservers {
		a, err := netip.ParseAddr(ns)
		if err != nil || !a.IsLoopback() {
			return false
		}
	}
	return true
}

// Cluster is the node's view of the cluster DNS.
type Cluster struct {
	// DNS are the cluster DNS servers (none: the node has no cluster DNS).
	DNS []netip.Addr
	// Domain is the cluster domain, e.g. cluster.local.
	Domain string
}

// Event is a Warning the kubelet records on the pod.
type Event struct {
	Reason, Message string
}

// policy is how a pod's resolv.conf starts.
type policy int

const (
	policyCluster policy = iota // the cluster DNS
	policyHost                  // the node's resolv.conf
	policyNone                  // nothing: only dnsConfig
)

// policyOf maps dnsPolicy to where the configuration starts: ClusterFirst
// is the node's for a host-network pod.
func policyOf(pod *corev1.Pod) (policy, error) {
	switch pod.Spec.DNSPolicy {
	case corev1.DNSClusterFirst, "":
		if pod.Spec.HostNetwork {
			return policyHost, nil
		}
		return policyCluster, nil
	case corev1.DNSClusterFirstWithHostNet:
		return policyCluster, nil
	case corev1.DNSDefault:
		return policyHost, nil
	case corev1.DNSNone:
		return policyNone, nil
	}
	return 0, fmt.Errorf("pod %s/%s: unknown dnsPolicy %q", pod.Namespace, pod.Name, pod.Spec.DNSPolicy)
}

// ForPod computes the DNS configuration of pod and the Warning events it
// deserves.
func ForPod(pod *corev1.Pod, cluster Cluster, host Host) (*runtimeapi.DNSConfig, []Event, error) {
	p, err := policyOf(pod)
	if err != nil {
		return nil, nil, err
	}
	var events []Event
	cfg := &runtimeapi.DNSConfig{}
	if p == policyCluster && len(cluster.DNS) == 0 {
		events = append(events, Event{ReasonMissingClusterDNS, fmt.Sprintf(
			"kubelet does not have ClusterDNS IP configured and cannot create Pod using %q policy. Falling back to %q policy.",
			pod.Spec.DNSPolicy, corev1.DNSDefault)})
		p = policyHost
	}
	switch p {
	case policyHost:
		cfg.Servers = slices.Clone(host.Nameservers)
		cfg.Searches = slices.Clone(host.Searches)
		cfg.Options = slices.Clone(host.Options)
	case policyCluster:
		for _, a := range cluster.DNS {
			cfg.Servers = append(cfg.Servers, a.String())
		}
		cfg.Searches = clusterSearches(pod.Namespace, cluster.Domain, host.Searches)
		cfg.Options = []string{"ndots:5"}
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		cfg.Servers = unique(append(cfg.Servers, dc.Nameservers...))
		cfg.Searches = unique(append(cfg.Searches, dc.Searches...))
		cfg.Options = mergeOptions(cfg.Options, dc.Options)
	}
	events = append(events, fitLimits(cfg)...)
	return cfg, events, nil
}

// clusterSearches is the search line of a cluster-DNS pod: its namespace's
// and the cluster's domains, then the node's.
func clusterSearches(namespace, domain string, host []string) []string {
	if domain == "" {
		return slices.Clone(host)
	}
	return unique(append([]string{namespace + ".svc." + domain, "svc." + domain, domain}, host...))
}

// unique drops repeated entries, keeping the first.
func unique(in []string) []string {
	out := in[:0:0]
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// mergeOptions sets the pod's options over the base ones: an option of
// the same name is replaced in place, a new one is appended.
func mergeOptions(base []string, pod []corev1.PodDNSConfigOption) []string {
	out := slices.Clone(base)
	for _, o := range pod {
		text := o.Name
		if o.Value != nil && *o.Value != "" {
			text += ":" + *o.Value
		}
		i := slices.IndexFunc(out, func(s string) bool { name, _, _ := strings.Cut(s, ":"); return name == o.Name })
		if i >= 0 {
			out[i] = text
		} else {
			out = append(out, text)
		}
	}
	return out
}

// fitLimits cuts cfg to the resolvers' limits and says what it cut.
func fitLimits(cfg *runtimeapi.DNSConfig) []Event {
	var events []Event
	if len(cfg.Servers) > MaxNameservers {
		cfg.Servers = cfg.Servers[:MaxNameservers]
		events = append(events, Event{ReasonDNSConfigForming, fmt.Sprintf(
			"Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: %s", strings.Join(cfg.Servers, " "))})
	}
	if n := searchFit(cfg.Searches); n < len(cfg.Searches) {
		cfg.Searches = cfg.Searches[:n]
		events = append(events, Event{ReasonDNSConfigForming, fmt.Sprintf(
			"Search Line limits were exceeded, some search paths have been omitted, the applied search line is: %s", strings.Join(cfg.Searches, " "))})
	}
	return events
}

// searchFit is how many of searches fit the limits: MaxSearchPaths
// entries, MaxSearchChars characters joined by spaces.
func searchFit(searches []string) int {
	chars := 0
	for i, s := range searches {
		if i == MaxSearchPaths {
			return i
		}
		chars += len(s)
		if i > 0 {
			chars++
		}
		if chars > MaxSearchChars {
			return i
		}
	}
	return len(searches)
}
