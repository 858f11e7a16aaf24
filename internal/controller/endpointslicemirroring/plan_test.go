package endpointslicemirroring

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/wellknown"
)

func endpoints() *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: "ns", UID: "ep-uid", Labels: map[string]string{"team": "ml"},
			Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: "{}", "note": "x"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{{IP: "192.0.2.1"}, {IP: "2001:db8::1"}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "192.0.2.2", Hostname: "h"}, {IP: "not-an-ip"}},
			Ports:             []corev1.EndpointPort{{Name: "http", Port: 80}},
		}},
	}
}

func TestShouldMirror(t *testing.T) {
	selectorless := &corev1.Service{}
	withSelector := &corev1.Service{Spec: corev1.ServiceSpec{Selector: map[string]string{"a": "b"}}}
	skip := endpoints()
	skip.Labels[discoveryv1.LabelSkipMirror] = "true"
	tests := []struct {
		name string
		svc  *corev1.Service
		ep   *corev1.Endpoints
		want bool
	}{
		{"selector-less service", selectorless, endpoints(), true},
		{"service with selector", withSelector, endpoints(), false},
		{"no service", nil, endpoints(), false},
		{"no endpoints", selectorless, nil, false},
		{"skip-mirror", selectorless, skip, false},
	}
	for _, tt := range tests {
		if got := ShouldMirror(tt.svc, tt.ep); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDesired(t *testing.T) {
	ep := endpoints()
	plan := Desired(ep, true, nil)
	if len(plan.Create) != 2 || len(plan.Update)+len(plan.Delete) != 0 {
		t.Fatalf("plan = %+v, want an IPv4 and an IPv6 slice", plan)
	}
	v4 := plan.Create[0]
	if v4.AddressType != discoveryv1.AddressTypeIPv4 {
		v4 = plan.Create[1]
	}
	if len(v4.Endpoints) != 2 || !*v4.Endpoints[0].Conditions.Ready || *v4.Endpoints[1].Conditions.Ready || *v4.Endpoints[1].Hostname != "h" {
		t.Errorf("IPv4 endpoints = %+v", v4.Endpoints)
	}
	if v4.Labels[discoveryv1.LabelManagedBy] != wellknown.EndpointSliceMirroringControllerName || v4.Labels[discoveryv1.LabelServiceName] != "ext" || v4.Labels["team"] != "ml" {
		t.Errorf("labels = %v", v4.Labels)
	}
	if _, ok := v4.Annotations[corev1.LastAppliedConfigAnnotation]; ok || v4.Annotations["note"] != "x" {
		t.Errorf("annotations = %v", v4.Annotations)
	}
	if len(v4.OwnerReferences) != 1 || v4.OwnerReferences[0].Kind != "Endpoints" || v4.OwnerReferences[0].UID != "ep-uid" {
		t.Errorf("owner = %+v", v4.OwnerReferences)
	}
	if len(v4.Ports) != 1 || *v4.Ports[0].Port != 80 || *v4.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("ports = %+v", v4.Ports)
	}

	// Stored: the same Endpoints plans nothing; a change updates in place.
	var existing []*discoveryv1.EndpointSlice
	for i, s := range plan.Create {
		s.Name = []string{"ext-a", "ext-b"}[i]
		existing = append(existing, s)
	}
	if p := Desired(ep, true, existing); !p.Empty() {
		t.Errorf("steady state plans %+v", p)
	}
	ep.Subsets[0].Addresses = ep.Subsets[0].Addresses[:1]
	p := Desired(ep, true, existing)
	if len(p.Delete) != 1 || len(p.Create)+len(p.Update) != 0 {
		t.Errorf("IPv6 address gone: plan %+v, want the IPv6 slice deleted", p)
	}
	ep.Subsets[0].Ports[0].Port = 8080
	p = Desired(ep, true, existing)
	if len(p.Create) != 1 || len(p.Delete) != 2 {
		t.Errorf("port changed: plan %d creates %d deletes, want 1 and 2", len(p.Create), len(p.Delete))
	}
	if p := Desired(ep, false, existing); len(p.Delete) != 2 {
		t.Errorf("not mirrored: plan %+v, want every slice deleted", p)
	}
}
