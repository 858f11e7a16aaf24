//go:build integration

package kubelet

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/agent/runtime"
	"skiff.dev/skiff/internal/agent/runtime/process"
)

// TestSmokeProcessRuntime runs a pod for real on the process runtime: its
// shell prints, exits 3 and is restarted, then the pod is deleted. It needs
// root (namespaces, cgroups) and /bin/sh.
func TestSmokeProcessRuntime(t *testing.T) {
	if os.Geteuid() != 0 || testing.Short() {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh")
	}
	// The test created the runtime, so it closes it: registered before
	// startKubelet, this runs after the kubelet stopped.
	var prt atomic.Pointer[process.Runtime]
	t.Cleanup(func() {
		if r := prt.Load(); r != nil {
			if err := r.Close(context.Background()); err != nil {
				t.Errorf("closing the process runtime: %v", err)
			}
		}
	})
	env := startKubelet(t, func(c *Config) {
		c.NewRuntime = func(ctx context.Context, _ netip.Prefix) (runtime.Runtime, error) {
			r, err := process.New(ctx, process.Config{StateDir: filepath.Join(c.DataDir, "process"), NodeIP: netip.MustParseAddr("127.0.0.1")})
			if err != nil {
				return nil, err
			}
			prt.Store(r)
			return r, nil
		}
	})
	pod := simplePod("real", corev1.Container{
		Name: "app", Image: "none", Command: []string{"/bin/sh", "-c", "echo hello $(NAME); touch /tmp/smoke-ready-$$; sleep 2; exit 3"},
		Env:            []corev1.EnvVar{{Name: "NAME", Value: "world"}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/true"}}}, PeriodSeconds: 1},
		Lifecycle:      &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", "echo prestop"}}}},
	})
	pod.Spec.TerminationGracePeriodSeconds = ptr.To(int64(3))
	env.createPod(t, pod)
	p := env.waitPod(t, "real", "Ready", isReady)
	t.Logf("ready: ip=%s %s", p.Status.PodIP, describeStatuses(p))
	p = env.waitPod(t, "real", "restarted", func(p *corev1.Pod) error {
		cs := p.Status.ContainerStatuses[0]
		if cs.RestartCount < 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 3 {
			return errors.New("not restarted")
		}
		return nil
	})
	t.Logf("restarted: %s", describeStatuses(p))
	b, err := os.ReadFile(filepath.Join(env.cfg.DataDir, "logs", "default_real_"+string(p.UID), "app", "0.log"))
	if err != nil || !strings.Contains(string(b), "hello world") {
		t.Errorf("log: %q %v", b, err)
	}
	start := time.Now()
	if err := env.client.CoreV1().Pods("default").Delete(context.Background(), "real", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "deleted", func() error {
		if _, err := env.getPod("real"); err == nil {
			return errors.New("still there")
		}
		return nil
	})
	t.Logf("deleted in %s; events %q", time.Since(start), env.events(t, "real"))
}
