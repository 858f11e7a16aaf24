package endpoints

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"skiff.dev/skiff/internal/wellknown"
)

func service(mut ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: corev1.ServiceSpec{
			Selector:  map[string]string{"app": "web"},
			ClusterIP: "10.43.0.5",
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")},
				{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9090)},
			},
		},
	}
	for _, m := range mut {
		m(s)
	}
	return s
}

func pod(name, ip string, ready bool, mut ...func(*corev1.Pod)) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name)},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{
			Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
	for _, m := range mut {
		m(p)
	}
	return p
}

// show renders subsets as "ready|notready|ports; ...".
func show(subsets []corev1.EndpointSubset) string {
	var out []string
	for _, s := range subsets {
		var r, n, p []string
		for _, a := range s.Addresses {
			r = append(r, a.IP)
		}
		for _, a := range s.NotReadyAddresses {
			n = append(n, a.IP)
		}
		for _, x := range s.Ports {
			p = append(p, fmt.Sprintf("%s:%d", x.Name, x.Port))
		}
		out = append(out, strings.Join(r, ",")+"|"+strings.Join(n, ",")+"|"+strings.Join(p, ","))
	}
	return strings.Join(out, "; ")
}

func TestSubsets(t *testing.T) {
	noHTTP := func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil }
	terminating := func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want string
	}{
		{"ready and not ready, repacked", service(), []*corev1.Pod{pod("b", "10.0.0.2", true), pod("a", "10.0.0.1", true), pod("c", "10.0.0.3", false)},
			"10.0.0.1,10.0.0.2|10.0.0.3|http:8000,metrics:9090"},
		{"a pod lacking the named port is only on the other", service(), []*corev1.Pod{pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", true, noHTTP)},
			"10.0.0.1||http:8000; 10.0.0.1,10.0.0.2||metrics:9090"},
		{"terminating pods left out", service(), []*corev1.Pod{pod("a", "10.0.0.1", true, terminating)}, ""},
		{"publishNotReadyAddresses keeps terminating and not ready as ready", service(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			[]*corev1.Pod{pod("a", "10.0.0.1", false, terminating)}, "10.0.0.1||http:8000,metrics:9090"},
		{"no IP or finished left out", service(), []*corev1.Pod{pod("a", "", true), pod("b", "10.0.0.2", true, func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed })}, ""},
		{"headless without ports", service(func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.Ports = corev1.ClusterIPNone, nil }),
			[]*corev1.Pod{pod("a", "10.0.0.1", true)}, "10.0.0.1||"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := show(Subsets(tt.svc, tt.pods))
			if got != tt.want {
				t.Errorf("subsets = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRepackReadyWins(t *testing.T) {
	a := corev1.EndpointAddress{IP: "10.0.0.1"}
	p := []corev1.EndpointPort{{Name: "http", Port: 80}}
	got := Repack([]corev1.EndpointSubset{{NotReadyAddresses: []corev1.EndpointAddress{a}, Ports: p}, {Addresses: []corev1.EndpointAddress{a}, Ports: p}})
	if show(got) != "10.0.0.1||http:80" {
		t.Errorf("repack = %q", show(got))
	}
}

func TestTruncate(t *testing.T) {
	mk := func(ready, notReady int) []corev1.EndpointSubset {
		var s corev1.EndpointSubset
		for i := range ready {
			s.Addresses = append(s.Addresses, corev1.EndpointAddress{IP: fmt.Sprintf("10.1.%d.%d", i/250, i%250)})
		}
		for i := range notReady {
			s.NotReadyAddresses = append(s.NotReadyAddresses, corev1.EndpointAddress{IP: fmt.Sprintf("10.2.%d.%d", i/250, i%250)})
		}
		return []corev1.EndpointSubset{s}
	}
	tests := []struct {
		ready, notReady, wantReady, wantNotReady int
		cut                                      bool
	}{
		{10, 10, 10, 10, false},
		{900, 300, 900, 100, true},
		{1200, 50, 1000, 0, true},
	}
	for _, tt := range tests {
		s, cut := Truncate(mk(tt.ready, tt.notReady))
		if cut != tt.cut || len(s[0].Addresses) != tt.wantReady || len(s[0].NotReadyAddresses) != tt.wantNotReady {
			t.Errorf("%d+%d: cut %v to %d+%d, want %v %d+%d", tt.ready, tt.notReady, cut, len(s[0].Addresses), len(s[0].NotReadyAddresses), tt.cut, tt.wantReady, tt.wantNotReady)
		}
	}
}

func TestTruncateDropsEmptiedSubsets(t *testing.T) {
	var big, small corev1.EndpointSubset
	for i := range 1100 {
		big.Addresses = append(big.Addresses, corev1.EndpointAddress{IP: fmt.Sprintf("10.1.%d.%d", i/250, i%250)})
	}
	small.NotReadyAddresses = []corev1.EndpointAddress{{IP: "10.9.9.9"}}
	got, cut := Truncate([]corev1.EndpointSubset{big, small})
	if !cut || len(got) != 1 || len(got[0].Addresses) != MaxCapacity {
		t.Errorf("cut %v to %d subsets", cut, len(got))
	}
}

func TestDesiredObject(t *testing.T) {
	svc := service(func(s *corev1.Service) { s.Labels = map[string]string{"team": "ml"} })
	var pods []*corev1.Pod
	for i := range 1001 {
		pods = append(pods, pod(fmt.Sprint(i), fmt.Sprintf("10.3.%d.%d", i/250, i%250), true))
	}
	ep, changed := Desired(svc, pods, nil)
	if !changed || ep.Name != "web" || ep.Labels[wellknown.EndpointsManagedByLabel] != wellknown.EndpointsControllerName || ep.Labels["team"] != "ml" {
		t.Fatalf("endpoints = %+v", ep.ObjectMeta)
	}
	if ep.Annotations[corev1.EndpointsOverCapacity] != "truncated" {
		t.Errorf("1001 addresses: no over-capacity annotation")
	}
	if _, changed := Desired(svc, pods, ep); changed {
		t.Errorf("same input changes the object")
	}
	ep2, changed := Desired(svc, pods[:3], ep)
	if !changed || ep2.Annotations[corev1.EndpointsOverCapacity] != "" {
		t.Errorf("back under capacity: annotation %q, changed %v", ep2.Annotations[corev1.EndpointsOverCapacity], changed)
	}
}
