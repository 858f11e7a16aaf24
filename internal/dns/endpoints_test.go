package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/wellknown"
)

func TestDesiredEndpoints(t *testing.T) {
	addr := netip.MustParseAddrPort("10.0.0.5:53")
	subset := func(port int32, ips ...string) corev1.EndpointSubset {
		ss := corev1.EndpointSubset{Ports: ports(uint16(port))}
		for _, ip := range ips {
			ss.Addresses = append(ss.Addresses, corev1.EndpointAddress{IP: ip})
		}
		return ss
	}
	eps := func(subsets ...corev1.EndpointSubset) *corev1.Endpoints {
		return &corev1.Endpoints{
			ObjectMeta: metav1.ObjectMeta{Name: wellknown.DNSServiceName, Namespace: metav1.NamespaceSystem, Labels: wellknown.DNSServiceLabels()},
			Subsets:    subsets,
		}
	}
	tests := []struct {
		name     string
		existing *corev1.Endpoints
		want     []string // ip:port
		changed  bool
	}{
		{"none yet", nil, []string{"10.0.0.5:53"}, true},
		{"already right", eps(subset(53, "10.0.0.5")), []string{"10.0.0.5:53"}, false},
		{"another server kept", eps(subset(53, "10.0.0.6")), []string{"10.0.0.6:53", "10.0.0.5:53"}, true},
		{"another server on another port kept", eps(subset(5353, "10.0.0.6")), []string{"10.0.0.6:5353", "10.0.0.5:53"}, true},
		{"this server's old port dropped", eps(subset(5353, "10.0.0.5")), []string{"10.0.0.5:53"}, true},
		{"emptied by hand", eps(), []string{"10.0.0.5:53"}, true},
		{"labels missing", &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: wellknown.DNSServiceName, Namespace: metav1.NamespaceSystem}, Subsets: []corev1.EndpointSubset{subset(53, "10.0.0.5")}},
			[]string{"10.0.0.5:53"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before *corev1.Endpoints
			if tt.existing != nil {
				before = tt.existing.DeepCopy()
			}
			got, changed := DesiredEndpoints(tt.existing, addr)
			var ips []string
			for _, ss := range got.Subsets {
				for _, a := range ss.Addresses {
					ips = append(ips, fmt.Sprintf("%s:%d", a.IP, ss.Ports[0].Port))
				}
				if len(ss.Ports) != 2 || ss.Ports[0].Protocol != corev1.ProtocolUDP || ss.Ports[1].Protocol != corev1.ProtocolTCP {
					t.Errorf("ports %v, want dns/UDP and dns-tcp/TCP", ss.Ports)
				}
			}
			if !slices.Equal(ips, tt.want) || changed != tt.changed {
				t.Errorf("DesiredEndpoints = %q (changed %v), want %q (changed %v)", ips, changed, tt.want, tt.changed)
			}
			if got.Labels[wellknown.DNSAppLabel] != wellknown.DNSAppName {
				t.Errorf("labels %v", got.Labels)
			}
			if tt.existing != nil && fmt.Sprint(before) != fmt.Sprint(tt.existing) {
				t.Error("existing modified")
			}
		})
	}
}
