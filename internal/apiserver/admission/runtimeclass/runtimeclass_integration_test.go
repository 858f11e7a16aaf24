//go:build integration

package runtimeclass_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/testserver"
)

// A pod naming a RuntimeClass gets the class's overhead, node selector and
// tolerations at create; one naming a class that does not exist is
// refused, as kube-apiserver's RuntimeClass admission does.
func TestRuntimeClassAdmission(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	overhead := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("120Mi")}
	_, err := s.Client.NodeV1().RuntimeClasses().Create(ctx, &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "gvisor"},
		Handler:    "runsc",
		Overhead:   &nodev1.Overhead{PodFixed: overhead},
		Scheduling: &nodev1.Scheduling{
			NodeSelector: map[string]string{"sandbox": "gvisor"},
			Tolerations:  []corev1.Toleration{{Key: "sandbox", Operator: corev1.TolerationOpEqual, Value: "gvisor", Effect: corev1.TaintEffectNoSchedule}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := func(name, class string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{
				RuntimeClassName: ptr.To(class),
				NodeSelector:     map[string]string{"zone": "a"},
				Containers:       []corev1.Container{{Name: "app", Image: "model:v1"}},
			},
		}
	}
	pods := s.Client.CoreV1().Pods("default")

	got, err := pods.Create(ctx, pod("sandboxed", "gvisor"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create a pod of RuntimeClass gvisor: %v", err)
	}
	if q := got.Spec.Overhead[corev1.ResourceCPU]; q.String() != "250m" {
		t.Errorf("overhead = %v, want the class's", got.Spec.Overhead)
	}
	if got.Spec.NodeSelector["sandbox"] != "gvisor" || got.Spec.NodeSelector["zone"] != "a" {
		t.Errorf("nodeSelector = %v, want the pod's and the class's", got.Spec.NodeSelector)
	}
	found := false
	for _, tol := range got.Spec.Tolerations {
		found = found || (tol.Key == "sandbox" && tol.Value == "gvisor")
	}
	if !found {
		t.Errorf("tolerations = %v, want the class's", got.Spec.Tolerations)
	}

	_, err = pods.Create(ctx, pod("unknown", "kata"), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `pod rejected: RuntimeClass "kata" not found`) {
		t.Fatalf("a pod of an unknown RuntimeClass: got %v, want 403 naming it", err)
	}

	bad := pod("own-overhead", "gvisor")
	bad.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
	_, err = pods.Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead") {
		t.Fatalf("a pod with its own overhead: got %v, want 403", err)
	}
}
