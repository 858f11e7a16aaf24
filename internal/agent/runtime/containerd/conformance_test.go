package containerd

import (
	"strconv"
	"testing"

	"skiff.dev/skiff/internal/agent/runtime"
	"skiff.dev/skiff/internal/agent/runtime/runtimetest"
)

// TestConformance runs the runtime contract's suite against a containerd
// of its own with the test program's image (testImages). It needs root
// and containerd, and is an integration test (skipped by -short).
func TestConformance(t *testing.T) {
	requireContainerd(t)
	var (
		rt  *Runtime
		cfg Config
		dir string
		pid int
	)
	cidr := randomCIDR()
	app := func(args ...string) []string { return append([]string{"/app"}, args...) }
	runtimetest.Run(t, runtimetest.Implementation{
		New: func(t *testing.T) runtime.Runtime {
			rt, cfg, dir = startTestRuntime(t, cidr)
			pid = rt.daemon.cmd.Process.Pid
			return rt
		},
		PodCIDR:     cidr,
		Image:       appImage,
		AbsentImage: "localhost/skiff/does-not-exist:v0",
		Programs: runtimetest.Programs{
			Echo:       func(words ...string) []string { return app(append([]string{"echo"}, words...)...) },
			Exit:       func(code int) []string { return app("exit", strconv.Itoa(code)) },
			Serve:      app("serve"),
			IgnoreTerm: app("ignore-term"),
			Status:     app("status"),
		},
		Released: func(t *testing.T, podUIDs []string) {
			for _, uid := range podUIDs {
				assertCleanedUp(t, cfg, dir, pid, uid)
			}
		},
	})
}
