package kubelet

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func cpuMem(cpu, mem string) corev1.ResourceRequirements {
	l := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
	return corev1.ResourceRequirements{Requests: l, Limits: l.DeepCopy()}
}

func resizedPod(res corev1.ResourceRequirements, policy ...corev1.ContainerResizePolicy) *corev1.Pod {
	return &corev1.Pod{Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyAlways,
		Containers:    []corev1.Container{{Name: "app", Image: "skiff/app:v1", Resources: res, ResizePolicy: policy}},
	}}
}

// A running instance that the runtime reports with the resources of res.
func runningWith(res corev1.ResourceRequirements) *containerInfo {
	ci := runningCI("app", 0)
	ci.resources = containerResources(&corev1.Container{Resources: res})
	return ci
}

func TestDecideResize(t *testing.T) {
	small, big := cpuMem("100m", "64Mi"), cpuMem("200m", "64Mi")
	fits := func(*corev1.Pod) *rejection { return nil }
	full := func(*corev1.Pod) *rejection {
		return &rejection{reason: "OutOfcpu", message: "Node didn't have enough resource: cpu, requested: 200, used: 1900, capacity: 2000"}
	}
	for _, tt := range []struct {
		name         string
		spec         corev1.ResourceRequirements
		fit          func(*corev1.Pod) *rejection
		wantAccepted bool
		wantPending  bool
		wantCPU      string
	}{
		{name: "unchanged", spec: small, fit: full, wantCPU: "100m"},
		{name: "fits: allocated", spec: big, fit: fits, wantAccepted: true, wantCPU: "200m"},
		{name: "does not fit: pending, allocation kept", spec: big, fit: full, wantPending: true, wantCPU: "100m"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := decideResize(resizedPod(tt.spec), allocation{"app": small}, tt.fit)
			if d.accepted != tt.wantAccepted || (d.pending != nil) != tt.wantPending {
				t.Errorf("accepted %v pending %v, want %v %v", d.accepted, d.pending, tt.wantAccepted, tt.wantPending)
			}
			if q := d.alloc["app"].Requests[corev1.ResourceCPU]; q.String() != tt.wantCPU {
				t.Errorf("allocated cpu = %s, want %s", q.String(), tt.wantCPU)
			}
		})
	}
}

func TestResizeFor(t *testing.T) {
	old := cpuMem("100m", "64Mi")
	restartMem := corev1.ContainerResizePolicy{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.RestartContainer}
	for _, tt := range []struct {
		name        string
		spec        corev1.ResourceRequirements
		policy      []corev1.ContainerResizePolicy
		unreported  bool
		wantRestart bool
		wantUpdate  bool
	}{
		{name: "same resources", spec: old},
		{name: "cpu, no policy: in place", spec: cpuMem("200m", "64Mi"), wantUpdate: true},
		{name: "cpu, memory restarts: in place", spec: cpuMem("200m", "64Mi"), policy: []corev1.ContainerResizePolicy{restartMem}, wantUpdate: true},
		{name: "memory, memory restarts: restart", spec: cpuMem("100m", "128Mi"), policy: []corev1.ContainerResizePolicy{restartMem}, wantRestart: true},
		{name: "runtime does not report resources", spec: cpuMem("200m", "64Mi"), unreported: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ci := runningWith(old)
			if tt.unreported {
				ci.resources = nil
			}
			c := &corev1.Container{Name: "app", Resources: tt.spec, ResizePolicy: tt.policy}
			restart, update := resizeFor(c, ci)
			if restart != tt.wantRestart || (update != nil) != tt.wantUpdate {
				t.Errorf("restart %v update %v, want %v %v", restart, update, tt.wantRestart, tt.wantUpdate)
			}
		})
	}
}

// computePodActions carries out an allocated resize: in place, or by a
// restart (which the restart policy does not prevent).
func TestComputePodActionsResize(t *testing.T) {
	old := cpuMem("100m", "64Mi")
	restartMem := corev1.ContainerResizePolicy{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.RestartContainer}

	pod := resizedPod(cpuMem("200m", "64Mi"), restartMem)
	acts := computePodActions(pod, withState(readySandbox(0), runningWith(old)), nil, nil, false)
	if len(acts.containersToUpdate) != 1 || len(acts.containersToKill) != 0 || len(acts.containersToStart) != 0 {
		t.Fatalf("cpu resize: update %d kill %d start %d, want 1 0 0", len(acts.containersToUpdate), len(acts.containersToKill), len(acts.containersToStart))
	}
	if got := acts.containersToUpdate[0].resources; got.CpuQuota != 20000 || got.CpuShares != 204 {
		t.Errorf("update to %v, want quota 20000 shares 204", got)
	}

	pod = resizedPod(cpuMem("100m", "128Mi"), restartMem)
	pod.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	acts = computePodActions(pod, withState(readySandbox(0), runningWith(old)), nil, nil, false)
	if len(acts.containersToKill) != 1 || acts.containersToKill[0].reason != killedResize || len(acts.containersToStart) != 1 {
		t.Fatalf("memory resize with RestartContainer: kill %v start %d, want a resize kill and a start", acts.containersToKill, len(acts.containersToStart))
	}
	if msg := acts.containersToKill[0].message; msg != "Container app resize requires restart" {
		t.Errorf("kill message %q", msg)
	}
}

func TestResizeConditions(t *testing.T) {
	pending := &rejection{reason: "OutOfcpu", message: "Node didn't have enough resource: cpu"}
	for _, tt := range []struct {
		name       string
		rs         resizeStatus
		inProgress bool
		want       []corev1.PodCondition
	}{
		{name: "none"},
		{
			name: "deferred", rs: resizeStatus{pending: pending, pendingGen: 3},
			want: []corev1.PodCondition{{Type: corev1.PodResizePending, Status: corev1.ConditionTrue, Reason: "Deferred", Message: pending.message, ObservedGeneration: 3}},
		},
		{
			name: "in progress", rs: resizeStatus{inProgressGen: 2}, inProgress: true,
			want: []corev1.PodCondition{{Type: corev1.PodResizeInProgress, Status: corev1.ConditionTrue, ObservedGeneration: 2}},
		},
		{
			name: "failed update", rs: resizeStatus{err: "boom"},
			want: []corev1.PodCondition{{Type: corev1.PodResizeInProgress, Status: corev1.ConditionTrue, Reason: "Error", Message: "boom", ObservedGeneration: 4}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := resizeConditions(tt.rs, tt.inProgress, 4)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("got %+v, want %+v", got[i], tt.want[i])
				}
			}
		})
	}
}

func TestStatusResources(t *testing.T) {
	c := &corev1.Container{Name: "app", Resources: cpuMem("200m", "128Mi")}
	ci := runningCI("app", 0)
	ci.resources = &runtimeapi.LinuxContainerResources{CpuPeriod: 100000, CpuQuota: 10000, CpuShares: 102, MemoryLimitInBytes: 64 << 20}
	got := statusResources(c, ci)
	for name, want := range map[string]resource.Quantity{
		"requests.cpu": got.Requests[corev1.ResourceCPU], "limits.cpu": got.Limits[corev1.ResourceCPU],
		"limits.memory": got.Limits[corev1.ResourceMemory], "requests.memory": got.Requests[corev1.ResourceMemory],
	} {
		exp := map[string]string{"requests.cpu": "100m", "limits.cpu": "100m", "limits.memory": "64Mi", "requests.memory": "128Mi"}[name]
		if want.String() != exp {
			t.Errorf("%s = %s, want %s (applied by the runtime; memory request as allocated)", name, want.String(), exp)
		}
	}
	if got := statusResources(c, nil); got.Limits.Cpu().String() != "200m" {
		t.Errorf("no instance: limits.cpu = %s, want the allocated 200m", got.Limits.Cpu().String())
	}
}
