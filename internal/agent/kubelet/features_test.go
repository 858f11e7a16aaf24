//go:build integration

package kubelet

import (
	"context"
	"net/netip"
	"testing"

	"skiff.dev/skiff/internal/agent/runtime"
	"skiff.dev/skiff/internal/agent/runtime/fake"
)

// The runtime's declared features, not its name, decide how a container's
// GPUs and termination message are set up.
func TestRuntimeFeatures(t *testing.T) {
	for _, tc := range []struct {
		name        string
		features    runtime.Features
		wantCUDA    bool
		wantTermLog bool
	}{
		{"own file system and devices (containerd)", runtime.Features{}, false, true},
		{"on the host (process)", runtime.Features{HostDeviceEnv: true, HostFilesystem: true}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := startKubelet(t, func(c *Config) {
				c.FakeGPUs = 1
				next := c.NewRuntime
				c.NewRuntime = func(ctx context.Context, cidr netip.Prefix) (runtime.Runtime, error) {
					rt, err := next(ctx, cidr)
					if f, ok := rt.(*fake.Runtime); ok {
						f.SetFeatures(tc.features)
					}
					return rt, err
				}
			})
			env.createPod(t, gpuPod("gpu", 1))
			env.waitPod(t, "gpu", "Ready", isReady)
			if _, ok := env.envOf("gpu", "app", "NVIDIA_VISIBLE_DEVICES"); !ok {
				t.Errorf("no NVIDIA_VISIBLE_DEVICES")
			}
			if v, ok := env.envOf("gpu", "app", "CUDA_VISIBLE_DEVICES"); ok != tc.wantCUDA {
				t.Errorf("CUDA_VISIBLE_DEVICES = %q (set: %v), want set: %v", v, ok, tc.wantCUDA)
			}
			termLog := false
			for _, m := range env.rt.Config("gpu", "app").Mounts {
				if m.ContainerPath == "/dev/termination-log" {
					termLog = true
				}
			}
			if termLog != tc.wantTermLog {
				t.Errorf("termination-log mount: %v, want %v", termLog, tc.wantTermLog)
			}
		})
	}
}
