package kubelet

import (
	"maps"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestRunningCounts(t *testing.T) {
	ready, notReady := runtimeapi.PodSandboxState_SANDBOX_READY, runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	sb := func(state runtimeapi.PodSandboxState) *runtimeapi.PodSandbox {
		return &runtimeapi.PodSandbox{State: state}
	}
	c := func(state runtimeapi.ContainerState) *runtimeapi.Container {
		return &runtimeapi.Container{State: state}
	}
	tests := []struct {
		name           string
		relisted       relisted
		wantPods       int
		wantContainers map[string]int
	}{
		{name: "nothing", wantContainers: map[string]int{"created": 0, "running": 0, "exited": 0, "unknown": 0}},
		{
			name: "a pod counts once with a ready sandbox, not at all without one",
			relisted: relisted{
				sandboxes: map[types.UID][]*runtimeapi.PodSandbox{
					"a": {sb(notReady), sb(ready)}, // restarted: the old sandbox stopped
					"b": {sb(notReady)},
					"c": {sb(ready)},
				},
				containers: map[types.UID][]*runtimeapi.Container{
					"a": {c(runtimeapi.ContainerState_CONTAINER_RUNNING), c(runtimeapi.ContainerState_CONTAINER_EXITED)},
					"b": {c(runtimeapi.ContainerState_CONTAINER_EXITED)},
					"c": {c(runtimeapi.ContainerState_CONTAINER_CREATED), c(runtimeapi.ContainerState_CONTAINER_UNKNOWN)},
				},
			},
			wantPods:       2,
			wantContainers: map[string]int{"created": 1, "running": 1, "exited": 2, "unknown": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pods, containers := runningCounts(&tt.relisted)
			if pods != tt.wantPods || !maps.Equal(containers, tt.wantContainers) {
				t.Errorf("runningCounts = %d, %v; want %d, %v", pods, containers, tt.wantPods, tt.wantContainers)
			}
		})
	}
}

func TestPodStarts(t *testing.T) {
	s := newPodStarts()
	t0 := time.Unix(1000, 0)
	if _, ok := s.running("a", t0); ok {
		t.Errorf("a pod never seen has a start duration")
	}
	s.seen("a", t0)
	s.seen("a", t0.Add(time.Second)) // a later event: still first seen at t0
	if d, ok := s.running("a", t0.Add(3*time.Second)); !ok || d != 3*time.Second {
		t.Errorf("running = %v, %v; want 3s since first seen", d, ok)
	}
	if _, ok := s.running("a", t0.Add(5*time.Second)); ok {
		t.Errorf("a pod's start counted twice")
	}
	s.forget("a")
	s.seen("a", t0.Add(10*time.Second))
	if d, ok := s.running("a", t0.Add(11*time.Second)); !ok || d != time.Second {
		t.Errorf("after forget: running = %v, %v; want 1s", d, ok)
	}
}
