//go:build integration

package process

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netlink"

	"skiff.dev/skiff/internal/agent/runtime"
	"skiff.dev/skiff/internal/agent/runtime/runtimetest"
)

// TestConformance runs the runtime contract's suite against the process
// runtime. It needs root and is an integration test (skipped by -short).
func TestConformance(t *testing.T) {
	cidr := randomCIDR()
	var env *testEnv
	runtimetest.Run(t, runtimetest.Implementation{
		New: func(t *testing.T) runtime.Runtime {
			env = newTestRuntimeIn(t, cidr)
			return env.r
		},
		PodCIDR: cidr,
		// No image store (AbsentImage is empty): every image is present.
		Image:    "localhost/skiff/model-server:v1",
		Programs: runtimetest.ShellPrograms(busybox, "sh"),
		Released: func(t *testing.T, podUIDs []string) {
			if _, err := netlink.LinkByName(env.bridge); err == nil {
				t.Errorf("bridge %s still exists after Close", env.bridge)
			}
			for _, uid := range podUIDs {
				for _, ctrl := range v1Controllers {
					p := filepath.Join("/sys/fs/cgroup", ctrl, "skiff", "pod"+uid)
					if _, err := os.Stat(p); err == nil {
						t.Errorf("cgroup %s is left", p)
					}
				}
			}
		},
	})
}
