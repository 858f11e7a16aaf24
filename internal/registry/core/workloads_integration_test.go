//go:build integration

package core_test

import (
	"context"
	"strings"
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/testserver"
)

// TestReplicationControllerServed: a ReplicationController is defaulted from
// its template, validated with Kubernetes' messages, scaled through its
// scale subresource and selectable by status.replicas.
func TestReplicationControllerServed(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	rcs := s.Client.CoreV1().ReplicationControllers("default")
	tmpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}},
	}
	rc, err := rcs.Create(ctx, &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ReplicationControllerSpec{Template: tmpl},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Spec.Selector["app"] != "web" || rc.Labels["app"] != "web" || *rc.Spec.Replicas != 1 {
		t.Errorf("defaults: selector %v labels %v replicas %d", rc.Spec.Selector, rc.Labels, *rc.Spec.Replicas)
	}

	scale, err := rcs.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil || scale.Spec.Replicas != 1 || scale.Status.Selector != "app=web" {
		t.Fatalf("scale: %v %+v", err, scale)
	}
	if _, err := rcs.UpdateScale(ctx, "web", &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: "web", ResourceVersion: scale.ResourceVersion},
		Spec:       autoscalingv1.ScaleSpec{Replicas: 4},
	}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if rc, _ = rcs.Get(ctx, "web", metav1.GetOptions{}); *rc.Spec.Replicas != 4 {
		t.Errorf("replicas %d after scaling to 4", *rc.Spec.Replicas)
	}

	bad := rc.DeepCopy()
	bad.Spec.Selector = map[string]string{"app": "db"}
	if _, err := rcs.Update(ctx, bad, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`") {
		t.Errorf("selector mismatch: %v", err)
	}
	list, err := rcs.List(ctx, metav1.ListOptions{FieldSelector: "status.replicas=0"})
	if err != nil || len(list.Items) != 1 {
		t.Errorf("field selector status.replicas=0: %v %d items", err, len(list.Items))
	}

	pts := s.Client.CoreV1().PodTemplates("default")
	pt, err := pts.Create(ctx, &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: "tmpl"}, Template: *tmpl}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pt.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || pt.Generation != 1 {
		t.Errorf("pod template: restartPolicy %q generation %d", pt.Template.Spec.RestartPolicy, pt.Generation)
	}
	pt.Template.Spec.Containers[0].Image = ""
	if _, err := pts.Update(ctx, pt, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "template.spec.containers[0].image: Required value") {
		t.Errorf("pod template without image: %v", err)
	}
}
