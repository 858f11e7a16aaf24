package endpointslice

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"skiff.dev/skiff/internal/wellknown"
)

func service(mut ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "svc-uid", Labels: map[string]string{"team": "ml"}},
		Spec: corev1.ServiceSpec{
			Selector:  map[string]string{"app": "web"},
			ClusterIP: "10.43.0.5",
			Ports:     []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}},
		},
	}
	for _, m := range mut {
		m(s)
	}
	return s
}

type podOpt func(*corev1.Pod)

func pod(name, ip string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name + "-uid"), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{
			Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func notReady(p *corev1.Pod)    { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func terminating(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }
func port(n int32) podOpt {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = n }
}

var nodes = map[string]*corev1.Node{"n1": {ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{corev1.LabelTopologyZone: "z1"}}}}

func cond(ep discoveryv1.Endpoint) string {
	return fmt.Sprintf("%v/%v/%v", *ep.Conditions.Ready, *ep.Conditions.Serving, *ep.Conditions.Terminating)
}

func TestDesiredConditionsAndPorts(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		// want: per created slice, "port:ip=ready/serving/terminating ..."
		want []string
	}{
		{"ready pod", service(), []*corev1.Pod{pod("a", "10.42.0.2")}, []string{"8000:10.42.0.2=true/true/false"}},
		{"not ready pod", service(), []*corev1.Pod{pod("a", "10.42.0.2", notReady)}, []string{"8000:10.42.0.2=false/false/false"}},
		{"terminating ready pod", service(), []*corev1.Pod{pod("a", "10.42.0.2", terminating)}, []string{"8000:10.42.0.2=false/true/true"}},
		{"publishNotReadyAddresses", service(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			[]*corev1.Pod{pod("a", "10.42.0.2", notReady, terminating)}, []string{"8000:10.42.0.2=true/false/true"}},
		{"no IP, finished: left out; no endpoint gives a placeholder", service(), []*corev1.Pod{
			pod("a", ""), pod("b", "10.42.0.3", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
		}, []string{"placeholder"}},
		{"different resolved ports, different slices", service(), []*corev1.Pod{pod("a", "10.42.0.2"), pod("b", "10.42.0.3", port(9000))},
			[]string{"8000:10.42.0.2=true/true/false", "9000:10.42.0.3=true/true/false"}},
		{"named port no container has: no endpoint on that port", service(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("grpc") }),
			[]*corev1.Pod{pod("a", "10.42.0.2")}, []string{"-:10.42.0.2=true/true/false"}},
		{"numeric target port", service(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(7000) }),
			[]*corev1.Pod{pod("a", "10.42.0.2", port(9000))}, []string{"7000:10.42.0.2=true/true/false"}},
		{"pod of another namespace or on an unknown node: left out", service(), []*corev1.Pod{
			pod("a", "10.42.0.2", func(p *corev1.Pod) { p.Namespace = "other" }),
			pod("b", "10.42.0.3", func(p *corev1.Pod) { p.Spec.NodeName = "gone" }),
		}, []string{"placeholder"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Desired(tt.svc, tt.pods, nodes, nil)
			var got []string
			for _, s := range plan.Create {
				if len(s.Endpoints) == 0 && len(s.Ports) == 0 {
					got = append(got, "placeholder")
					continue
				}
				ps := "-"
				if len(s.Ports) > 0 {
					ps = fmt.Sprint(*s.Ports[0].Port)
				}
				line := ps + ":"
				for i, ep := range s.Endpoints {
					if i > 0 {
						line += " "
					}
					line += ep.Addresses[0] + "=" + cond(ep)
				}
				got = append(got, line)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("slices = %q, want %q", got, tt.want)
			}
			if len(plan.Update)+len(plan.Delete) != 0 {
				t.Errorf("plan from nothing updates or deletes: %+v", plan)
			}
		})
	}
}

func TestDesiredMetadata(t *testing.T) {
	svc := service(func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone })
	p := pod("a", "10.42.0.2", func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "a-host", "web" })
	plan := Desired(svc, []*corev1.Pod{p}, nodes, nil)
	if len(plan.Create) != 1 {
		t.Fatalf("want one slice, got %+v", plan)
	}
	s := plan.Create[0]
	wantLabels := map[string]string{"team": "ml", discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: wellknown.EndpointSliceControllerName, corev1.IsHeadlessService: ""}
	if fmt.Sprint(s.Labels) != fmt.Sprint(wantLabels) {
		t.Errorf("labels = %v, want %v", s.Labels, wantLabels)
	}
	if s.GenerateName != "web-" || s.Namespace != "ns" || s.AddressType != discoveryv1.AddressTypeIPv4 {
		t.Errorf("meta = %q %q %q", s.GenerateName, s.Namespace, s.AddressType)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != "svc-uid" || s.OwnerReferences[0].Kind != "Service" ||
		!*s.OwnerReferences[0].Controller || !*s.OwnerReferences[0].BlockOwnerDeletion {
		t.Errorf("owner = %+v", s.OwnerReferences)
	}
	ep := s.Endpoints[0]
	if *ep.NodeName != "n1" || *ep.Zone != "z1" || *ep.Hostname != "a-host" || ep.TargetRef.Name != "a" || ep.TargetRef.UID != "a-uid" || ep.Hints != nil {
		t.Errorf("endpoint = %+v", ep)
	}
}

func TestDesiredSelectorlessAndExternalName(t *testing.T) {
	old := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "web-x"}}
	for _, svc := range []*corev1.Service{
		service(func(s *corev1.Service) { s.Spec.Selector = nil }),
		service(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }),
	} {
		plan := Desired(svc, []*corev1.Pod{pod("a", "10.42.0.2")}, nodes, []*discoveryv1.EndpointSlice{old})
		if len(plan.Create)+len(plan.Update) != 0 || len(plan.Delete) != 1 {
			t.Errorf("%v: plan = %+v, want only the delete of our slice", svc.Spec, plan)
		}
	}
}

// applied is what the API server would hold after a plan: existing with
// the creates (given names) and updates applied and deletes removed.
func applied(existing []*discoveryv1.EndpointSlice, plan Plan, next *int) []*discoveryv1.EndpointSlice {
	byName := map[string]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		byName[s.Name] = s
	}
	for _, s := range plan.Update {
		byName[s.Name] = s
	}
	for _, s := range plan.Delete {
		delete(byName, s.Name)
	}
	for _, s := range plan.Create {
		s = s.DeepCopy()
		*next++
		s.Name = fmt.Sprintf("web-%03d", *next)
		byName[s.Name] = s
	}
	var out []*discoveryv1.EndpointSlice
	for _, s := range byName {
		out = append(out, s)
	}
	return out
}

func TestDesiredPacksAndReuses(t *testing.T) {
	svc := service()
	var pods []*corev1.Pod
	for i := range 250 {
		pods = append(pods, pod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.42.%d.%d", i/200, i%200+1)))
	}
	next := 0
	plan := Desired(svc, pods, nodes, nil)
	if len(plan.Create) != 3 {
		t.Fatalf("250 endpoints: %d slices, want 3", len(plan.Create))
	}
	for _, s := range plan.Create {
		if len(s.Endpoints) > MaxEndpointsPerSlice {
			t.Errorf("slice of %d endpoints", len(s.Endpoints))
		}
	}
	state := applied(nil, plan, &next)

	// Steady state: nothing to write.
	if plan := Desired(svc, pods, nodes, state); !plan.Empty() {
		t.Fatalf("second plan not empty: %d creates %d updates %d deletes", len(plan.Create), len(plan.Update), len(plan.Delete))
	}
	// One pod turns not ready: exactly one slice is updated in place.
	notReady(pods[7])
	plan = Desired(svc, pods, nodes, state)
	if len(plan.Update) != 1 || len(plan.Create)+len(plan.Delete) != 0 {
		t.Fatalf("readiness flip: %d creates %d updates %d deletes, want one update", len(plan.Create), len(plan.Update), len(plan.Delete))
	}
	state = applied(state, plan, &next)
	// 200 pods go and one comes: the new one fills a slice with room, the
	// emptied slices are deleted, no slice is created.
	pods = append(pods[200:], pod("new", "10.42.9.9"))
	plan = Desired(svc, pods, nodes, state)
	if len(plan.Create) != 0 || len(plan.Delete) != 2 || len(plan.Update) != 1 {
		t.Fatalf("shrink: %d creates %d updates %d deletes, want 0/1/2", len(plan.Create), len(plan.Update), len(plan.Delete))
	}
	state = applied(state, plan, &next)
	if len(state) != 1 || len(state[0].Endpoints) != 51 {
		t.Fatalf("after shrink: %d slices", len(state))
	}
	// All pods go: a placeholder replaces the last slice.
	plan = Desired(svc, nil, nodes, state)
	state = applied(state, plan, &next)
	if len(state) != 1 || len(state[0].Endpoints) != 0 || len(state[0].Ports) != 0 {
		t.Fatalf("no pods: want one placeholder, got %d slices", len(state))
	}
	if plan := Desired(svc, nil, nodes, state); !plan.Empty() {
		t.Fatalf("placeholder is not stable: %+v", plan)
	}
}

func TestDesiredReusesPlaceholder(t *testing.T) {
	svc := service()
	next := 0
	state := applied(nil, Desired(svc, nil, nodes, nil), &next)
	if len(state) != 1 || len(state[0].Endpoints)+len(state[0].Ports) != 0 {
		t.Fatalf("no pods: %d slices, want one placeholder", len(state))
	}
	pods := []*corev1.Pod{pod("a", "10.42.0.2")}
	plan := Desired(svc, pods, nodes, state)
	if len(plan.Update) != 1 || len(plan.Create)+len(plan.Delete) != 0 || plan.Update[0].Name != state[0].Name {
		t.Fatalf("first pod: %d creates %d updates %d deletes, want the placeholder updated", len(plan.Create), len(plan.Update), len(plan.Delete))
	}
	state = applied(state, plan, &next)
	plan = Desired(svc, nil, nodes, state)
	if len(plan.Update) != 1 || len(plan.Create)+len(plan.Delete) != 0 {
		t.Fatalf("pod gone: %d creates %d updates %d deletes, want the slice emptied in place", len(plan.Create), len(plan.Update), len(plan.Delete))
	}
}
