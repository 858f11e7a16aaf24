//go:build integration

package podsub_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff.dev/skiff/internal/testserver"
)

// pods/resize changes a pod's container resources in place, as `kubectl
// patch --subresource resize` does: only resources and resize policies
// change through it (the pod's generation goes up), and Kubernetes'
// resize validation refuses what may not change, naming the field.
func TestPodResize(t *testing.T) {
	srv := testserver.Start(t, nil)
	ctx := context.Background()
	pods := srv.Client.CoreV1().Pods("default")
	res := func(cpuReq, cpuLim string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuReq), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuLim), corev1.ResourceMemory: resource.MustParse("128Mi")},
		}
	}
	pod, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "model", Labels: map[string]string{"app": "model"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "model:v1", Resources: res("100m", "200m"),
			ResizePolicy: []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.RestartContainer}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	patch := func(p map[string]any) (*corev1.Pod, error) {
		b, _ := json.Marshal(p)
		return pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, b, metav1.PatchOptions{}, "resize")
	}
	container := func(c map[string]any) map[string]any {
		c["name"] = "c"
		return map[string]any{"spec": map[string]any{"containers": []any{c}}}
	}

	// Resources change; the image and labels do not (they are dropped).
	p := container(map[string]any{"image": "model:v2", "resources": map[string]any{
		"requests": map[string]string{"cpu": "150m"}, "limits": map[string]string{"cpu": "300m"}}})
	p["metadata"] = map[string]any{"labels": map[string]string{"app": "changed"}}
	got, err := patch(p)
	if err != nil {
		t.Fatalf("patch resize: %v", err)
	}
	c := got.Spec.Containers[0]
	if q := c.Resources.Requests[corev1.ResourceCPU]; q.String() != "150m" {
		t.Errorf("cpu request = %s, want 150m", q.String())
	}
	if q := c.Resources.Limits[corev1.ResourceCPU]; q.String() != "300m" {
		t.Errorf("cpu limit = %s, want 300m", q.String())
	}
	if c.Image != "model:v1" || got.Labels["app"] != "model" {
		t.Errorf("image %q, labels %v: changed through resize", c.Image, got.Labels)
	}
	if got.Generation != pod.Generation+1 {
		t.Errorf("generation = %d, want %d", got.Generation, pod.Generation+1)
	}

	for _, tc := range []struct {
		name  string
		patch map[string]any
		want  string
	}{
		{
			name:  "removing a limit",
			patch: container(map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": nil}}}),
			want:  "spec.containers[0].resources.limits: Forbidden: resource limits cannot be removed",
		},
		{
			name:  "a resource other than cpu and memory",
			patch: container(map[string]any{"resources": map[string]any{"requests": map[string]string{"ephemeral-storage": "1Gi"}}}),
			want:  "spec: Forbidden: only cpu and memory resources are mutable",
		},
		{
			name: "changing the QoS class",
			patch: container(map[string]any{"resources": map[string]any{
				"requests": map[string]string{"cpu": "300m", "memory": "128Mi"}}}),
			want: "Pod QOS Class may not change as a result of resizing",
		},
		{
			name: "adding a container",
			patch: map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "other", "image": "model:v1"}}}},
			want: "spec.containers: Forbidden: containers may not be added or removed on resize",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := patch(tc.patch)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want 422 with %q", err, tc.want)
			}
		})
	}

	// A plain pod update still may not change resources.
	got, _ = pods.Get(ctx, pod.Name, metav1.GetOptions{})
	got.Spec.Containers[0].Resources = res("120m", "300m")
	if _, err := pods.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("resize by a pod update: got %v, want 422", err)
	}
}
