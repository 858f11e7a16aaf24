package core

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func rcTemplate(labels map[string]string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}},
	}
}

func TestReplicationControllerDefaults(t *testing.T) {
	rc := defaulted(t, &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: rcTemplate(map[string]string{"app": "web"})}})
	if !reflect.DeepEqual(rc.Spec.Selector, map[string]string{"app": "web"}) || !reflect.DeepEqual(rc.Labels, map[string]string{"app": "web"}) {
		t.Errorf("selector %v labels %v, want the template's labels", rc.Spec.Selector, rc.Labels)
	}
	if rc.Spec.Replicas == nil || *rc.Spec.Replicas != 1 {
		t.Errorf("replicas %v, want 1", rc.Spec.Replicas)
	}
	if rc.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || rc.Spec.Template.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("template not defaulted: %+v", rc.Spec.Template.Spec)
	}
	kept := defaulted(t, &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"own": "x"}},
		Spec:       corev1.ReplicationControllerSpec{Selector: map[string]string{"app": "web"}, Template: rcTemplate(map[string]string{"app": "web", "v": "1"})},
	})
	if !reflect.DeepEqual(kept.Spec.Selector, map[string]string{"app": "web"}) || !reflect.DeepEqual(kept.Labels, map[string]string{"own": "x"}) {
		t.Errorf("given selector %v and labels %v changed", kept.Spec.Selector, kept.Labels)
	}
}

func TestReplicationControllerValidation(t *testing.T) {
	k := kindOf(t, "replicationcontrollers")
	valid := func() *corev1.ReplicationController {
		return defaulted(t, &corev1.ReplicationController{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec:       corev1.ReplicationControllerSpec{Template: rcTemplate(map[string]string{"app": "web"})},
		})
	}
	for _, tc := range []struct {
		name   string
		mutate func(rc *corev1.ReplicationController)
		want   []string
	}{
		{"valid", func(*corev1.ReplicationController) {}, nil},
		{"no template", func(rc *corev1.ReplicationController) { rc.Spec.Template = nil }, []string{"spec.template: Required value"}},
		{"selector mismatch", func(rc *corev1.ReplicationController) { rc.Spec.Selector = map[string]string{"app": "db"} },
			[]string{"spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"}},
		{"empty selector", func(rc *corev1.ReplicationController) { rc.Spec.Selector = nil }, []string{"spec.selector: Required value"}},
		{"negative replicas", func(rc *corev1.ReplicationController) { rc.Spec.Replicas = new(int32(-1)) },
			[]string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"}},
		{"restart never", func(rc *corev1.ReplicationController) {
			rc.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		},
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := valid()
			tc.mutate(rc)
			if got := errorStrings(k.Validate(ctx, rc)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n got  %q\n want %q", got, tc.want)
			}
		})
	}
	bad := valid()
	bad.Status = corev1.ReplicationControllerStatus{Replicas: 1, ReadyReplicas: 2}
	if got := errorStrings(k.ValidateStatusUpdate(ctx, bad, valid())); !reflect.DeepEqual(got, []string{"status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"}) {
		t.Errorf("status errors %q", got)
	}
}

func TestWorkloadRows(t *testing.T) {
	created := metav1.NewTime(time.Now().Add(-5 * time.Minute))
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: created},
		Spec:       corev1.ReplicationControllerSpec{Replicas: new(int32(3)), Selector: map[string]string{"app": "web"}, Template: rcTemplate(map[string]string{"app": "web"})},
		Status:     corev1.ReplicationControllerStatus{Replicas: 3, ReadyReplicas: 2},
	}
	got, err := kindOf(t, "replicationcontrollers").Row(rc)
	if want := []interface{}{int64(3), int64(3), int64(2), "5m", "web", "nginx:1.25", "app=web"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("rc row %#v (%v), want %#v", got, err, want)
	}
	pt := &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: "t"}, Template: *rcTemplate(map[string]string{"app": "web"})}
	got, err = kindOf(t, "podtemplates").Row(pt)
	if want := []interface{}{"web", "nginx:1.25", "app=web"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("podtemplate row %#v (%v), want %#v", got, err, want)
	}
	if sel, _ := kindOf(t, "replicationcontrollers").Scale.Selector(rc); sel != "app=web" {
		t.Errorf("scale selector %q", sel)
	}
}
