package kubelet

import (
	"context"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff.dev/skiff/internal/agent/runtime/fake"
)

// TestPodRuntimeInvalidates: every call through runtimeFor that changes the
// pod in the runtime leaves its cached state stale, also when the call
// fails, and a read begun during the call cannot be cached after it.
func TestPodRuntimeInvalidates(t *testing.T) {
	ctx := context.Background()
	rt := fake.New()
	m := &podManager{rt: rt, cache: newRuntimeCache()}
	pr := m.runtimeFor("p")
	sbCfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Uid: "p", Namespace: "default"},
		Labels:   map[string]string{labelPodUID: "p"},
	}
	var sb, c string
	calls := []struct {
		name string
		call func() error
	}{
		{"RunPodSandbox", func() (err error) { sb, err = pr.RunPodSandbox(ctx, sbCfg, ""); return err }},
		{"CreateContainer", func() (err error) {
			c, err = pr.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "app"}}, sbCfg)
			return err
		}},
		{"StartContainer", func() error { return pr.StartContainer(ctx, c) }},
		{"UpdateContainerResources", func() error {
			return pr.UpdateContainerResources(ctx, c, &runtimeapi.ContainerResources{Linux: &runtimeapi.LinuxContainerResources{CpuShares: 2}})
		}},
		{"StopContainer", func() error { return pr.StopContainer(ctx, c, 0) }},
		{"RemoveContainer", func() error { return pr.RemoveContainer(ctx, c) }},
		{"StopPodSandbox", func() error { return pr.StopPodSandbox(ctx, sb) }},
		{"RemovePodSandbox", func() error { return pr.RemovePodSandbox(ctx, sb) }},
		{"StartContainer of a removed container", func() error { _ = pr.StartContainer(ctx, c); return nil }},
	}
	for _, tt := range calls {
		// A read that began before the call returned, as a relist's would.
		gen := m.cache.begin()
		if err := tt.call(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		m.cache.put("p", &podState{}, gen)
		if _, ok := m.cache.get("p"); ok {
			t.Errorf("%s: a state read during the call is cached after it", tt.name)
		}
		m.cache.put("p", &podState{}, m.cache.begin())
		if _, ok := m.cache.get("p"); !ok {
			t.Errorf("%s: a state read after the call is not cached", tt.name)
		}
	}
}
