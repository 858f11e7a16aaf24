//go:build integration

package kubelet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// gpuPod asks for n GPUs in its one container.
func gpuPod(name string, n int64) *corev1.Pod {
	q := *resource.NewQuantity(n, resource.DecimalSI)
	return simplePod(name, corev1.Container{
		Name: "app", Image: "skiff/app:v1",
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{gpuResource: q}, Requests: corev1.ResourceList{gpuResource: q}},
	})
}

// envOf is a container's variable as the runtime was given it.
func (e *testEnv) envOf(pod, container, key string) (string, bool) {
	cfg := e.rt.Config(pod, container)
	if cfg == nil {
		return "", false
	}
	for _, kv := range cfg.Envs {
		if kv.Key == key {
			return string(kv.Value), true
		}
	}
	return "", false
}

// On a node with two (simulated) GPUs, two pods asking for one each get
// different devices, a pod asking for none sees none, a third GPU pod is
// rejected, and a device comes free when its pod goes.
func TestGPUsAreHandedOut(t *testing.T) {
	env := startKubelet(t, func(c *Config) { c.FakeGPUs = 2 })
	gpuA := env.createPod(t, gpuPod("gpu-a", 1))
	env.createPod(t, gpuPod("gpu-b", 1))
	env.createPod(t, simplePod("cpu-only"))
	for _, name := range []string{"gpu-a", "gpu-b", "cpu-only"} {
		env.waitPod(t, name, "Ready", isReady)
	}
	a, okA := env.envOf("gpu-a", "app", "NVIDIA_VISIBLE_DEVICES")
	b, okB := env.envOf("gpu-b", "app", "NVIDIA_VISIBLE_DEVICES")
	if !okA || !okB || a == b || (a != "0" && a != "1") || (b != "0" && b != "1") {
		t.Fatalf("NVIDIA_VISIBLE_DEVICES: gpu-a %q, gpu-b %q; want 0 and 1, one each", a, b)
	}
	if v, ok := env.envOf("cpu-only", "app", "NVIDIA_VISIBLE_DEVICES"); ok {
		t.Errorf("a pod without GPUs got NVIDIA_VISIBLE_DEVICES=%q", v)
	}

	env.createPod(t, gpuPod("gpu-c", 1))
	p := env.waitPod(t, "gpu-c", "rejected", func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodFailed {
			return errors.New("not Failed")
		}
		return nil
	})
	if want := "Pod was rejected: Node didn't have enough resource: nvidia.com/gpu, requested: 1, used: 2, capacity: 2"; p.Status.Reason != "OutOfnvidia.com/gpu" || p.Status.Message != want {
		t.Errorf("reason %q message %q, want OutOfnvidia.com/gpu %q", p.Status.Reason, p.Status.Message, want)
	}

	if err := env.client.CoreV1().Pods("default").Delete(context.Background(), "gpu-a", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "gpu-a gone", func() error {
		if _, err := env.getPod("gpu-a"); err == nil {
			return errors.New("still there")
		}
		return nil
	})
	// The kubelet frees the pod's place and its device together once it
	// cleaned up after it (the API forgot it at once, grace 0).
	poll(t, 20*time.Second, "gpu-a's device freed", func() error {
		b, err := os.ReadFile(filepath.Join(env.cfg.DataDir, "kubelet", "device-checkpoint.json"))
		if err != nil {
			return err
		}
		if strings.Contains(string(b), string(gpuA.UID)) {
			return errors.New("still assigned")
		}
		return nil
	})
	env.createPod(t, gpuPod("gpu-d", 1))
	env.waitPod(t, "gpu-d", "Ready", isReady)
	if d, _ := env.envOf("gpu-d", "app", "NVIDIA_VISIBLE_DEVICES"); d != a {
		t.Errorf("gpu-d got device %q, want %q, freed by gpu-a", d, a)
	}
}
