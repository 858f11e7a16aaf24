//go:build integration

package kubelet

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// An in-place resize through pods/resize: a cpu change is applied to the
// running container (no restart); a memory change whose resizePolicy is
// RestartContainer restarts it; a resize that does not fit the node is
// Deferred. The status reports the allocated and applied resources, the
// resize conditions and the observed generation.
func TestPodResizeInPlace(t *testing.T) {
	env := startKubelet(t, nil)
	env.createPod(t, simplePod("web", corev1.Container{
		Name: "app", Image: "skiff/app:v1", Resources: cpuMem("100m", "64Mi"),
		ResizePolicy: []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.RestartContainer}},
	}))
	p := env.waitPod(t, "web", "Running and Ready", runningAndReady)
	if cs := p.Status.ContainerStatuses[0]; cs.Resources == nil || cs.AllocatedResources.Cpu().String() != "100m" {
		t.Fatalf("status resources %v allocated %v, want them reported", cs.Resources, cs.AllocatedResources)
	}
	resize := func(cpu, mem string) {
		t.Helper()
		patch := fmt.Sprintf(`{"spec":{"containers":[{"name":"app","resources":{"requests":{"cpu":%q,"memory":%q},"limits":{"cpu":%q,"memory":%q}}}]}}`, cpu, mem, cpu, mem)
		if _, err := env.client.CoreV1().Pods("default").Patch(context.Background(), "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}, "resize"); err != nil {
			t.Fatalf("resize: %v", err)
		}
	}
	applied := func(cpu, mem string, restarts int32) func(*corev1.Pod) error {
		return func(p *corev1.Pod) error {
			if len(p.Status.ContainerStatuses) != 1 {
				return fmt.Errorf("statuses %v", p.Status.ContainerStatuses)
			}
			cs := p.Status.ContainerStatuses[0]
			switch {
			case p.Status.ObservedGeneration != p.Generation:
				return fmt.Errorf("observedGeneration %d, generation %d", p.Status.ObservedGeneration, p.Generation)
			case cs.Resources == nil || cs.Resources.Limits.Cpu().String() != cpu || cs.Resources.Limits.Memory().String() != mem:
				return fmt.Errorf("resources %v", cs.Resources)
			case cs.AllocatedResources.Cpu().String() != cpu:
				return fmt.Errorf("allocatedResources %v", cs.AllocatedResources)
			case cs.RestartCount != restarts || cs.State.Running == nil:
				return fmt.Errorf("restartCount %d, state %+v", cs.RestartCount, cs.State)
			case condition(p, corev1.PodResizeInProgress) != nil || condition(p, corev1.PodResizePending) != nil:
				return fmt.Errorf("resize conditions still there: %+v", p.Status.Conditions)
			}
			return nil
		}
	}

	resize("200m", "64Mi")
	env.waitPod(t, "web", "cpu resized in place", applied("200m", "64Mi", 0))
	env.waitEvent(t, "web", "Pod resize started: ")
	if got := env.rt.Config("web", "app").Linux.Resources; got.CpuQuota != 20000 {
		t.Errorf("runtime cpu quota %d, want 20000", got.CpuQuota)
	}

	resize("200m", "128Mi")
	env.waitPod(t, "web", "memory resized by a restart", applied("200m", "128Mi", 1))
	env.waitEvent(t, "web", "Container app resize requires restart")

	resize("100000", "128Mi")
	p = env.waitPod(t, "web", "resize deferred", func(p *corev1.Pod) error {
		c := condition(p, corev1.PodResizePending)
		if c == nil || c.Reason != "Deferred" || !strings.HasPrefix(c.Message, "Node didn't have enough resource: cpu") || c.ObservedGeneration != p.Generation {
			return fmt.Errorf("PodResizePending = %+v", c)
		}
		return nil
	})
	env.waitEvent(t, "web", "Pod resize Deferred: ")
	if cs := p.Status.ContainerStatuses[0]; cs.AllocatedResources.Cpu().String() != "200m" {
		t.Errorf("allocatedResources %v after a deferred resize, want the previous 200m", cs.AllocatedResources)
	}
}
