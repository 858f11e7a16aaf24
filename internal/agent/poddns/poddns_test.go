package poddns

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

func TestParseResolvConf(t *testing.T) {
	in := `# generated
nameserver 192.168.1.1
nameserver 2001:db8::1 ; comment
search old.example
search corp.example. lab.example .
options ndots:2 timeout:1
options rotate
`
	got, err := ParseResolvConf(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Host{
		Nameservers: []string{"192.168.1.1", "2001:db8::1"},
		Searches:    []string{"corp.example", "lab.example"},
		Options:     []string{"ndots:2", "timeout:1", "rotate"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseResolvConf (-want +got):\n%s", diff)
	}
}

func TestForPod(t *testing.T) {
	host := Host{Nameservers: []string{"192.168.1.1"}, Searches: []string{"corp.example"}, Options: []string{"ndots:1", "edns0"}}
	cluster := Cluster{DNS: []netip.Addr{netip.MustParseAddr("10.43.0.10")}, Domain: "cluster.local"}
	clusterSearch := []string{"prod.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}
	many := func(n int, f string) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf(f, i))
		}
		return out
	}
	tests := []struct {
		name      string
		policy    corev1.DNSPolicy
		hostNet   bool
		dnsConfig *corev1.PodDNSConfig
		cluster   Cluster
		want      *runtimeapi.DNSConfig
		events    []string
	}{
		{name: "ClusterFirst", policy: corev1.DNSClusterFirst, cluster: cluster,
			want: &runtimeapi.DNSConfig{Servers: []string{"10.43.0.10"}, Searches: clusterSearch, Options: []string{"ndots:5"}}},
		{name: "empty policy is ClusterFirst", cluster: cluster,
			want: &runtimeapi.DNSConfig{Servers: []string{"10.43.0.10"}, Searches: clusterSearch, Options: []string{"ndots:5"}}},
		{name: "ClusterFirst with hostNetwork is Default", policy: corev1.DNSClusterFirst, hostNet: true, cluster: cluster,
			want: &runtimeapi.DNSConfig{Servers: []string{"192.168.1.1"}, Searches: []string{"corp.example"}, Options: []string{"ndots:1", "edns0"}}},
		{name: "ClusterFirstWithHostNet", policy: corev1.DNSClusterFirstWithHostNet, hostNet: true, cluster: cluster,
			want: &runtimeapi.DNSConfig{Servers: []string{"10.43.0.10"}, Searches: clusterSearch, Options: []string{"ndots:5"}}},
		{name: "Default", policy: corev1.DNSDefault, cluster: cluster,
			want: &runtimeapi.DNSConfig{Servers: []string{"192.168.1.1"}, Searches: []string{"corp.example"}, Options: []string{"ndots:1", "edns0"}}},
		{name: "None without dnsConfig is empty", policy: corev1.DNSNone, cluster: cluster, want: &runtimeapi.DNSConfig{}},
		{name: "None is exactly dnsConfig", policy: corev1.DNSNone, cluster: cluster,
			dnsConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.example"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "edns0"}}},
			want: &runtimeapi.DNSConfig{Servers: []string{"1.1.1.1"}, Searches: []string{"a.example"}, Options: []string{"ndots:2", "edns0"}}},
		{name: "dnsConfig merged into ClusterFirst", policy: corev1.DNSClusterFirst, cluster: cluster,
			dnsConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "10.43.0.10"}, Searches: []string{"extra.example", "svc.cluster.local"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "single-request-reopen"}}},
			want: &runtimeapi.DNSConfig{Servers: []string{"10.43.0.10", "1.1.1.1"}, Searches: append(slices.Clone(clusterSearch), "extra.example"),
				Options: []string{"ndots:2", "single-request-reopen"}}},
		{name: "dnsConfig merged into Default", policy: corev1.DNSDefault, cluster: cluster,
			dnsConfig: &corev1.PodDNSConfig{Options: []corev1.PodDNSConfigOption{{Name: "edns0", Value: ptr.To("")}, {Name: "timeout", Value: ptr.To("3")}}},
			want:      &runtimeapi.DNSConfig{Servers: []string{"192.168.1.1"}, Searches: []string{"corp.example"}, Options: []string{"ndots:1", "edns0", "timeout:3"}}},
		{name: "no cluster DNS falls back to the node's", policy: corev1.DNSClusterFirst, cluster: Cluster{Domain: "cluster.local"},
			want:   &runtimeapi.DNSConfig{Servers: []string{"192.168.1.1"}, Searches: []string{"corp.example"}, Options: []string{"ndots:1", "edns0"}},
			events: []string{ReasonMissingClusterDNS}},
		{name: "dual-stack cluster DNS", policy: corev1.DNSClusterFirst,
			cluster: Cluster{DNS: []netip.Addr{netip.MustParseAddr("10.43.0.10"), netip.MustParseAddr("fd00::a")}, Domain: "cluster.local"},
			want:    &runtimeapi.DNSConfig{Servers: []string{"10.43.0.10", "fd00::a"}, Searches: clusterSearch, Options: []string{"ndots:5"}}},
		{name: "nameservers cut to 3", policy: corev1.DNSNone, cluster: cluster,
			dnsConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"}},
			want:      &runtimeapi.DNSConfig{Servers: []string{"1.1.1.1", "1.1.1.2", "1.1.1.3"}},
			events:    []string{ReasonDNSConfigForming}},
		{name: "search paths cut to 32", policy: corev1.DNSNone, cluster: cluster,
			dnsConfig: &corev1.PodDNSConfig{Searches: many(33, "s%d.example")},
			want:      &runtimeapi.DNSConfig{Searches: many(32, "s%d.example")},
			events:    []string{ReasonDNSConfigForming}},
		{name: "search line cut to 2048 characters", policy: corev1.DNSNone, cluster: cluster,
			dnsConfig: &corev1.PodDNSConfig{Searches: many(20, "%03d"+strings.Repeat("x", 196))}, // 200 characters each
			want:      &runtimeapi.DNSConfig{Searches: many(10, "%03d"+strings.Repeat("x", 196))},
			events:    []string{ReasonDNSConfigForming}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "p"},
				Spec: corev1.PodSpec{DNSPolicy: tt.policy, HostNetwork: tt.hostNet, DNSConfig: tt.dnsConfig}}
			got, events, err := ForPod(pod, tt.cluster, host)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b *runtimeapi.DNSConfig) bool {
				return slices.Equal(a.Servers, b.Servers) && slices.Equal(a.Searches, b.Searches) && slices.Equal(a.Options, b.Options)
			})); diff != "" {
				t.Errorf("ForPod (-want +got):\n%s\ngot %v", diff, got)
			}
			var reasons []string
			for _, e := range events {
				reasons = append(reasons, e.Reason)
			}
			if !slices.Equal(reasons, tt.events) {
				t.Errorf("events = %v, want reasons %v", events, tt.events)
			}
		})
	}
	// The host's slices are not changed by a merge.
	if !slices.Equal(host.Options, []string{"ndots:1", "edns0"}) || !slices.Equal(host.Searches, []string{"corp.example"}) {
		t.Errorf("host config changed: %+v", host)
	}
}

func TestForPodUnknownPolicy(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{DNSPolicy: "Sometimes"}}
	if _, _, err := ForPod(pod, Cluster{}, Host{}); err == nil {
		t.Error("unknown dnsPolicy: no error")
	}
}

func TestOnlyLoopback(t *testing.T) {
	tests := []struct {
		servers []string
		want    bool
	}{
		{[]string{"127.0.0.53"}, true},
		{[]string{"127.0.0.1", "::1"}, true},
		{[]string{"127.0.0.53", "192.168.1.1"}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := (Host{Nameservers: tt.servers}).OnlyLoopback(); got != tt.want {
			t.Errorf("OnlyLoopback(%v) = %v, want %v", tt.servers, got, tt.want)
		}
	}
}
