package process

import (
	"testing"

	"skiff.dev/skiff/internal/agent/runtime"
	"skiff.dev/skiff/internal/agent/runtime/runtimetest"
)

// TestConformance runs the runtime contract's suite against the process
// runtime. It needs root and is an integration test (skipped by -short).
func TestConformance(t *testing.T) {
	cidr := randomCIDR()
	runtimetest.Run(t, runtimetest.Implementation{
		New: func(t *testing.T) runtime.Runtime {
			return newTestRuntimeIn(t, cidr).r
		},
		PodCIDR: cidr,
		// No image store (AbsentImage is empty): every image is present.
		Image:    "localhost/skiff/model-server:v1",
		Programs: runtimetest.ShellPrograms(busybox, "sh"),
	})
}
