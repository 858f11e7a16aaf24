package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// `kubectl patch --subresource resize` on the process runtime: the new cpu
// and memory limits land in the running container's cgroup, the container
// is not restarted, and the pod's status reports the applied resources.
// A resize of anything but cpu and memory is refused with Kubernetes'
// message.
func TestPodResizeProcess(t *testing.T) {
	n := startNodeSuite(t, "process")
	s := n.s
	res := func(cpu, mem string) corev1.ResourceRequirements {
		l := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
		return corev1.ResourceRequirements{Requests: l, Limits: l.DeepCopy()}
	}
	c := n.shellContainer("c", "echo ready; exec sleep 3600")
	c.Resources = res("100m", "64Mi")
	n.createPod("default", &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "resize"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{c}, TerminationGracePeriodSeconds: ptr.To(int64(1))},
	})
	p := n.waitPod("default", "resize", 60*time.Second, "Running", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	id := p.Status.ContainerStatuses[0].ContainerID
	_, cid, _ := strings.Cut(id, "://")
	rel := "/skiff/pod" + string(p.UID) + "/" + cid
	if cpu, mem := cgroupLimits(t, rel); cpu != 10000 || mem != 64<<20 {
		t.Fatalf("cgroup %s before the resize: cpu quota %d, memory limit %d; want 10000 (100m) and 64Mi", rel, cpu, mem)
	}

	s.ok("patch", "pod", "resize", "--subresource", "resize", "--patch",
		`{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"200m","memory":"128Mi"},"limits":{"cpu":"200m","memory":"128Mi"}}}]}}`)
	p = n.waitPod("default", "resize", 30*time.Second, "the resize applied", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses[0]
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodResizePending || cond.Type == corev1.PodResizeInProgress {
				return false
			}
		}
		return p.Status.ObservedGeneration == p.Generation && cs.Resources != nil &&
			cs.Resources.Limits.Cpu().String() == "200m" && cs.Resources.Limits.Memory().String() == "128Mi"
	})
	if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 0 || cs.ContainerID != id || cs.State.Running == nil {
		t.Errorf("after the resize: restartCount %d, container %s (was %s), state %+v; want the same container running", cs.RestartCount, cs.ContainerID, id, cs.State)
	}
	if cpu, mem := cgroupLimits(t, rel); cpu != 20000 || mem != 128<<20 {
		t.Errorf("cgroup %s after the resize: cpu quota %d, memory limit %d; want 20000 (200m) and 128Mi", rel, cpu, mem)
	}

	out := s.fails("patch", "pod", "resize", "--subresource", "resize", "--patch",
		`{"spec":{"containers":[{"name":"c","resources":{"requests":{"ephemeral-storage":"1Gi"}}}]}}`)
	if !strings.Contains(out, "spec: Forbidden: only cpu and memory resources are mutable") {
		t.Errorf("resizing ephemeral-storage: %s", out)
	}
}

// cgroupLimits reads the CPU quota (per 100ms period) and memory limit of
// the cgroup rel, on cgroup v2 or v1.
func cgroupLimits(t *testing.T, rel string) (cpuQuota, memory int64) {
	t.Helper()
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", rel, "cpu.max"))
		if err != nil {
			t.Fatal(err)
		}
		quota, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		q := int64(-1)
		if quota != "max" {
			var err error
			if q, err = strconv.ParseInt(quota, 10, 64); err != nil {
				t.Fatalf("cpu.max: %v", err)
			}
		}
		return q, cgroupValue(t, filepath.Join("/sys/fs/cgroup", rel, "memory.max"))
	}
	return cgroupValue(t, filepath.Join("/sys/fs/cgroup/cpu", rel, "cpu.cfs_quota_us")),
		cgroupValue(t, filepath.Join("/sys/fs/cgroup/memory", rel, "memory.limit_in_bytes"))
}
