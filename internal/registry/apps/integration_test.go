//go:build integration

package apps_test

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff.dev/skiff/internal/testserver"
)

func podTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}},
	}
}

// TestStatefulSetAndDaemonSetServed: a created StatefulSet and DaemonSet
// come back with Kubernetes' defaults, and their status goes through the
// status subresource only.
func TestStatefulSetAndDaemonSetServed(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	ss, err := s.Client.AppsV1().StatefulSets("default").Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       appsv1.StatefulSetSpec{ServiceName: "web", Selector: sel, Template: podTemplate()},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ss.Spec.PodManagementPolicy != appsv1.OrderedReadyPodManagement || ss.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType ||
		ss.Spec.UpdateStrategy.RollingUpdate == nil || *ss.Spec.UpdateStrategy.RollingUpdate.Partition != 0 ||
		*ss.Spec.RevisionHistoryLimit != 10 || *ss.Spec.Replicas != 1 ||
		ss.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("statefulset defaults: %+v", ss.Spec)
	}
	ss.Status.Replicas = 1
	if _, err := s.Client.AppsV1().StatefulSets("default").Update(ctx, ss, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Client.AppsV1().StatefulSets("default").Get(ctx, "web", metav1.GetOptions{})
	if got.Status.Replicas != 0 {
		t.Errorf("an update of the main resource set status.replicas %d", got.Status.Replicas)
	}
	got.Status.Replicas = 1
	if got, err = s.Client.AppsV1().StatefulSets("default").UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil || got.Status.Replicas != 1 {
		t.Errorf("status update: %v, replicas %d", err, got.Status.Replicas)
	}

	ds, err := s.Client.AppsV1().DaemonSets("default").Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec:       appsv1.DaemonSetSpec{Selector: sel, Template: podTemplate()},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable.IntValue() != 1 ||
		*ds.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("daemonset defaults: %+v", ds.Spec)
	}
	ds.Status.DesiredNumberScheduled = -1
	if _, err := s.Client.AppsV1().DaemonSets("default").UpdateStatus(ctx, ds, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "status.desiredNumberScheduled: Invalid value: -1: must be greater than or equal to 0") {
		t.Errorf("negative desiredNumberScheduled: %v", err)
	}
}

// TestControllerRevisionServed: revisions are created with data, their data
// never changes, and the table names the owning controller.
func TestControllerRevisionServed(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	revs := s.Client.AppsV1().ControllerRevisions("default")
	cr, err := revs.Create(ctx, &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Labels: map[string]string{"app": "web"}},
		Data:       runtime.RawExtension{Raw: []byte(`{"spec":{"template":{}}}`)},
		Revision:   1,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cr.Data = runtime.RawExtension{Raw: []byte(`{"spec":{}}`)}
	if _, err := revs.Update(ctx, cr, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "field is immutable") {
		t.Errorf("changed data: %v, want 422 immutable", err)
	}
	_, err = revs.Create(ctx, &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "empty"}, Revision: 1}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "data: Required value: data is mandatory") {
		t.Errorf("no data: %v", err)
	}
	list, err := revs.List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(list.Items) != 1 {
		t.Errorf("list: %v %v", err, list)
	}
}
