package store

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func deploymentKind() *Kind {
	return &Kind{
		Resource: schema.GroupResource{Group: "apps", Resource: "deployments"}, Kind: "Deployment", Namespaced: true,
		New: func() runtime.Object { return &appsv1.Deployment{} }, NewList: func() runtime.Object { return &appsv1.DeploymentList{} },
	}
}

func TestCreateClearsStatusAndStartsGeneration(t *testing.T) {
	s := newStrategy(runtime.NewScheme(), deploymentKind(), []string{"apps/v1"})
	d := &appsv1.Deployment{Status: appsv1.DeploymentStatus{Replicas: 7}}
	s.PrepareForCreate(context.Background(), d)
	if d.Status.Replicas != 0 || d.Generation != 1 {
		t.Errorf("after create: status.replicas=%d generation=%d, want 0 and 1", d.Status.Replicas, d.Generation)
	}
}

func TestUpdateGenerationAndStatus(t *testing.T) {
	old := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Generation: 4},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)},
		Status:     appsv1.DeploymentStatus{Replicas: 3},
	}
	tests := []struct {
		name           string
		change         func(d *appsv1.Deployment)
		wantGeneration int64
	}{
		{"spec change bumps generation", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](5) }, 5},
		{"label change keeps generation", func(d *appsv1.Deployment) { d.Labels = map[string]string{"a": "b"} }, 4},
		{"status change through main resource is ignored", func(d *appsv1.Deployment) { d.Status.Replicas = 9 }, 4},
	}
	s := newStrategy(runtime.NewScheme(), deploymentKind(), []string{"apps/v1"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := old.DeepCopy()
			tc.change(d)
			s.PrepareForUpdate(context.Background(), d, old)
			if d.Generation != tc.wantGeneration {
				t.Errorf("generation %d, want %d", d.Generation, tc.wantGeneration)
			}
			if d.Status.Replicas != 3 {
				t.Errorf("status.replicas %d, want the stored 3", d.Status.Replicas)
			}
		})
	}
}

func TestStatusUpdateKeepsSpec(t *testing.T) {
	s := statusStrategy{newStrategy(runtime.NewScheme(), deploymentKind(), []string{"apps/v1"})}
	old := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)}}
	d := old.DeepCopy()
	d.Spec.Replicas = ptr.To[int32](10)
	d.Status.ReadyReplicas = 3
	s.PrepareForUpdate(context.Background(), d, old)
	if *d.Spec.Replicas != 3 || d.Status.ReadyReplicas != 3 || d.Generation != 2 {
		t.Errorf("status update: replicas=%d ready=%d generation=%d, want 3, 3, 2", *d.Spec.Replicas, d.Status.ReadyReplicas, d.Generation)
	}
}

func TestMetadataValidation(t *testing.T) {
	k := &Kind{Resource: schema.GroupResource{Resource: "configmaps"}, Kind: "ConfigMap", Namespaced: true,
		New: func() runtime.Object { return &corev1.ConfigMap{} }, NewList: func() runtime.Object { return &corev1.ConfigMapList{} }}
	s := newStrategy(runtime.NewScheme(), k, []string{"v1"})
	tests := []struct {
		name, objName, namespace string
		wantField                string
	}{
		{"valid", "model-config", "production", ""},
		{"uppercase name", "Bad_Name", "production", "metadata.name"},
		{"missing namespace", "ok", "", "metadata.namespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := s.Validate(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: tc.objName, Namespace: tc.namespace}})
			switch {
			case tc.wantField == "" && len(errs) > 0:
				t.Errorf("unexpected errors %v", errs)
			case tc.wantField != "" && (len(errs) == 0 || errs[0].Field != tc.wantField):
				t.Errorf("errors %v, want one on %s", errs, tc.wantField)
			}
		})
	}
}

type requestGroupKey struct{}

// TestRequestNameValidation: a kind served through two APIs checks new
// names by the rule of the API the request came through; an update checks
// the kind's own rule, whatever the API.
func TestRequestNameValidation(t *testing.T) {
	k := &Kind{
		Resource: schema.GroupResource{Resource: "events"}, Kind: "Event", Namespaced: true,
		New: func() runtime.Object { return &corev1.Event{} }, NewList: func() runtime.Object { return &corev1.EventList{} },
		NameValidation: func(string, bool) []string { return nil },
		RequestNameValidation: func(ctx context.Context) apivalidation.ValidateNameFunc {
			if ctx.Value(requestGroupKey{}) == "strict" {
				return func(string, bool) []string { return []string{"refused"} }
			}
			return func(string, bool) []string { return nil }
		},
	}
	s := newStrategy(runtime.NewScheme(), k, []string{"v1"})
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "pod.1", Namespace: "default", ResourceVersion: "1"}}
	if errs := s.Validate(context.Background(), ev); len(errs) != 0 {
		t.Errorf("lenient request: %v", errs)
	}
	strict := context.WithValue(context.Background(), requestGroupKey{}, "strict")
	if errs := s.Validate(strict, ev); len(errs) != 1 || errs[0].Field != "metadata.name" {
		t.Errorf("strict request: %v", errs)
	}
	if errs := s.ValidateUpdate(strict, ev, ev.DeepCopy()); len(errs) != 0 {
		t.Errorf("update through the strict API: %v", errs)
	}
}
