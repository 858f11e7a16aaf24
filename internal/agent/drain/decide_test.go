package drain

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff.dev/skiff/internal/wellknown"
)

type ep struct {
	pod                         string
	ready, serving, terminating bool
}

func slice(svc, rv string, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: svc + "-x", ResourceVersion: rv,
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: discoveryv1.AddressTypeIPv4}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{"10.42.0.1"},
			Conditions: discoveryv1.EndpointConditions{Ready: &e.ready, Serving: &e.serving, Terminating: &e.terminating},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: e.pod, UID: types.UID(e.pod + "-uid")},
		})
	}
	return s
}

func node(name string, ready bool, acked string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{wellknown.ServiceProxyLabel: "true"}}}
	if acked != "" {
		n.Annotations = map[string]string{wellknown.ServiceProxySyncedAnnotation: acked}
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}
	return n
}

func TestDecide(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "old", UID: "old-uid"}}
	gone := ep{pod: "old", serving: true, terminating: true}
	other := ep{pod: "new", ready: true, serving: true}
	for _, tc := range []struct {
		name     string
		slices   []*discoveryv1.EndpointSlice
		nodes    []*corev1.Node
		wantWait bool
	}{
		{"in no Service, no slices", nil, []*corev1.Node{node("a", true, "")}, false},
		{"still ready in a slice", []*discoveryv1.EndpointSlice{slice("svc", "10", ep{pod: "old", ready: true, serving: true}, other)}, nil, true},
		{"terminating while others are ready, proxies caught up",
			[]*discoveryv1.EndpointSlice{slice("svc", "10", gone, other)}, []*corev1.Node{node("a", true, "10"), node("b", true, "12")}, false},
		{"terminating while others are ready, one proxy behind",
			[]*discoveryv1.EndpointSlice{slice("svc", "10", gone, other)}, []*corev1.Node{node("a", true, "10"), node("b", true, "9")}, true},
		{"a proxy that never acknowledged holds the pod",
			[]*discoveryv1.EndpointSlice{slice("svc", "10", gone, other)}, []*corev1.Node{node("a", true, "")}, true},
		{"a not Ready node does not hold the pod",
			[]*discoveryv1.EndpointSlice{slice("svc", "10", gone, other)}, []*corev1.Node{node("a", true, "10"), node("b", false, "3")}, false},
		{"the fallback: no ready endpoint, so the serving terminating pod takes traffic",
			[]*discoveryv1.EndpointSlice{slice("svc", "10", gone, ep{pod: "new"})}, []*corev1.Node{node("a", true, "10")}, true},
		{"terminating and not serving: no fallback",
			[]*discoveryv1.EndpointSlice{slice("svc", "10", ep{pod: "old", terminating: true})}, []*corev1.Node{node("a", true, "10")}, false},
		{"a ready endpoint in another slice of the Service ends the fallback",
			[]*discoveryv1.EndpointSlice{slice("svc", "10", gone), slice("svc", "11", other)}, []*corev1.Node{node("a", true, "11")}, false},
		{"the revision is the newest slice of the namespace",
			[]*discoveryv1.EndpointSlice{slice("svc", "10", gone, other), slice("unrelated", "15", other)}, []*corev1.Node{node("a", true, "12")}, true},
		{"removed from its slice altogether",
			[]*discoveryv1.EndpointSlice{slice("svc", "20", other)}, []*corev1.Node{node("a", true, "20")}, false},
		{"routable in a second Service",
			[]*discoveryv1.EndpointSlice{slice("svc", "10", gone, other), slice("svc2", "11", ep{pod: "old", ready: true})}, []*corev1.Node{node("a", true, "20")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(pod, tc.slices, tc.nodes)
			if got.Wait != tc.wantWait {
				t.Fatalf("Decide: wait %v (%q), want %v", got.Wait, got.Reason, tc.wantWait)
			}
			if got.Wait == (got.Reason == "") {
				t.Fatalf("reason %q with wait %v", got.Reason, got.Wait)
			}
		})
	}
}

func TestDecideMatchesPodByUID(t *testing.T) {
	// A pod of the same name (a StatefulSet's next one) is another pod.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "new", UID: "other-uid"}}
	if d := Decide(pod, []*discoveryv1.EndpointSlice{slice("svc", "10", ep{pod: "new", ready: true})}, nil); d.Wait {
		t.Fatalf("the endpoint of another pod of the same name holds the pod: %q", d.Reason)
	}
}
