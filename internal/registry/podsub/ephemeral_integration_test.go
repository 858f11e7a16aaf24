//go:build integration

package podsub_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff.dev/skiff/internal/testserver"
)

// pods/ephemeralcontainers adds debug containers to a pod, as kubectl debug
// does (a strategic merge patch of the subresource); nothing else of the pod
// changes through it, an ephemeral container cannot be removed or changed,
// and a plain pod update cannot add one.
func TestEphemeralContainers(t *testing.T) {
	srv := testserver.Start(t, nil)
	ctx := context.Background()
	pods := srv.Client.CoreV1().Pods("default")
	pod, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "model", Labels: map[string]string{"app": "model"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "model:v1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	debugger := corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debugger-abcde", Image: "busybox", Stdin: true, TTY: true,
			TerminationMessagePolicy: corev1.TerminationMessageReadFile, ImagePullPolicy: corev1.PullIfNotPresent,
		},
		TargetContainerName: "app",
	}
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"labels": map[string]string{"app": "changed"}},
		"spec":     map[string]any{"ephemeralContainers": []corev1.EphemeralContainer{debugger}},
	})
	got, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "ephemeralcontainers")
	if err != nil {
		t.Fatalf("patch ephemeralcontainers: %v", err)
	}
	if len(got.Spec.EphemeralContainers) != 1 || got.Spec.EphemeralContainers[0].Name != "debugger-abcde" {
		t.Fatalf("ephemeral containers = %+v, want debugger-abcde", got.Spec.EphemeralContainers)
	}
	if got.Labels["app"] != "model" {
		t.Errorf("labels changed through ephemeralcontainers: %v", got.Labels)
	}

	// Removing it is refused.
	got.Spec.EphemeralContainers = nil
	_, err = pods.UpdateEphemeralContainers(ctx, pod.Name, got, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `existing ephemeral containers "debugger-abcde" may not be removed`) {
		t.Fatalf("removing an ephemeral container: got %v", err)
	}
	// A bad one (ports are not allowed) is refused naming the field.
	got, _ = pods.Get(ctx, pod.Name, metav1.GetOptions{})
	bad := debugger
	bad.Name = "with-port"
	bad.Ports = []corev1.ContainerPort{{ContainerPort: 80}}
	got.Spec.EphemeralContainers = append(got.Spec.EphemeralContainers, bad)
	_, err = pods.UpdateEphemeralContainers(ctx, pod.Name, got, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.ephemeralContainers[1].ports") {
		t.Fatalf("an ephemeral container with ports: got %v", err)
	}
	// A plain update cannot add one.
	got, _ = pods.Get(ctx, pod.Name, metav1.GetOptions{})
	second := debugger
	second.Name = "second"
	got.Spec.EphemeralContainers = append(got.Spec.EphemeralContainers, second)
	if _, err := pods.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("adding an ephemeral container by a pod update: got %v, want 422", err)
	}
}
