package servicelb

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/wellknown"
)

func node(name string, proxy, ready bool, ips ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	if proxy {
		n.Labels[wellknown.ServiceProxyLabel] = "true"
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}
	for _, ip := range ips {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.1"})
	return n
}

func lb(mut ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	for _, m := range mut {
		m(s)
	}
	return s
}

func TestDesired(t *testing.T) {
	nodes := []*corev1.Node{
		node("b", true, true, "192.168.1.20"),
		node("a", true, true, "192.168.1.10", "192.168.1.20"),
		node("down", true, false, "192.168.1.30"),
		node("noproxy", false, true, "192.168.1.40"),
	}
	slices := []*discoveryv1.EndpointSlice{{Endpoints: []discoveryv1.Endpoint{
		{NodeName: new("b"), Conditions: discoveryv1.EndpointConditions{Ready: new(true)}},
		{NodeName: new("a"), Conditions: discoveryv1.EndpointConditions{Ready: new(false)}},
	}}}
	existing := []corev1.LoadBalancerIngress{{IP: "198.51.100.1"}}
	tests := []struct {
		name    string
		svc     *corev1.Service
		want    string
		changed bool
		ok      bool
	}{
		{"no class: ready proxy nodes, sorted, deduplicated", lb(), "[192.168.1.10 192.168.1.20]", true, true},
		{"our class", lb(func(s *corev1.Service) { s.Spec.LoadBalancerClass = new(wellknown.ServiceLBClass) }), "[192.168.1.10 192.168.1.20]", true, true},
		{"another class: left alone", lb(func(s *corev1.Service) {
			s.Spec.LoadBalancerClass = new("example.com/lb")
			s.Status.LoadBalancer.Ingress = existing
		}), "[]", false, false},
		{"externalTrafficPolicy Local: nodes with a ready endpoint", lb(func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}), "[192.168.1.20]", true, true},
		{"no longer a LoadBalancer: cleared", lb(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeClusterIP
			s.Status.LoadBalancer.Ingress = existing
		}), "[]", true, true},
		{"ClusterIP without ingress: nothing to do", lb(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }), "[]", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, changed, ok := Desired(tt.svc, nodes, slices)
			var ips []string
			for _, in := range st.Ingress {
				ips = append(ips, in.IP)
				if in.IPMode == nil || *in.IPMode != corev1.LoadBalancerIPModeVIP {
					t.Errorf("%s: ipMode %v", in.IP, in.IPMode)
				}
			}
			if fmt.Sprint(ips) != tt.want || changed != tt.changed || ok != tt.ok {
				t.Errorf("got %v changed=%v ok=%v, want %s %v %v", ips, changed, ok, tt.want, tt.changed, tt.ok)
			}
			if changed {
				tt.svc.Status.LoadBalancer = st
				if _, again, _ := Desired(tt.svc, nodes, slices); again {
					t.Errorf("not stable once written")
				}
			}
		})
	}
}
