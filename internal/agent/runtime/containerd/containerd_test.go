package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"k8s.io/apimachinery/pkg/util/wait"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"
)

// requireContainerd skips the test under -short (it is an integration
// test) and where containerd cannot run, unless SKIFF_REQUIRE_CONTAINERD=1
// (CI) makes that a failure.
func requireContainerd(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs root and containerd")
	}
	var missing string
	switch {
	case !Available():
		missing = "containerd is not installed"
	case os.Geteuid() != 0:
		missing = "not root"
	default:
		for _, bin := range []string{"ctr", "runc", "iptables"} {
			if _, err := exec.LookPath(bin); err != nil {
				missing = bin + " is not installed"
			}
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("SKIFF_REQUIRE_CONTAINERD") == "1" {
		t.Fatalf("SKIFF_REQUIRE_CONTAINERD=1 but %s", missing)
	}
	t.Skip(missing)
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// testPod is the sandbox config the kubelet would send for a pod.
func testPod(dir, name, uid string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: uid},
		Hostname:     name,
		LogDirectory: filepath.Join(dir, "logs", "default_"+name+"_"+uid),
		Labels: map[string]string{
			"io.kubernetes.pod.name":      name,
			"io.kubernetes.pod.namespace": "default",
			"io.kubernetes.pod.uid":       uid,
		},
		Linux: &runtimeapi.LinuxPodSandboxConfig{CgroupParent: "/skiff/pod" + uid},
	}
}

func testContainer(image, name string, args ...string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: image},
		Args:     args,
		LogPath:  name + "/0.log",
		Labels:   map[string]string{"io.kubernetes.container.name": name},
		Linux: &runtimeapi.LinuxContainerConfig{Resources: &runtimeapi.LinuxContainerResources{
			CpuPeriod: 100000, CpuQuota: 50000, CpuShares: 256, MemoryLimitInBytes: 64 << 20,
		}},
	}
}

// waitFor waits until cond is true, failing the test after timeout or on
// cond's error.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// appImage is the tag of the test program's image (testImages).
const appImage = "localhost/skiff/cttest:v1"

// randomCIDR is a pod CIDR unlikely to be another test's.
func randomCIDR() netip.Prefix {
	return netip.MustParsePrefix(fmt.Sprintf("10.245.%d.0/24", rand.IntN(256)))
}

// startTestRuntime starts a runtime with its own containerd, bridge and pod
// CIDR, and the test program's image imported. A cleanup closes it (again).
func startTestRuntime(t *testing.T, podCIDR netip.Prefix) (rt *Runtime, cfg Config, dir string) {
	t.Helper()
	requireContainerd(t)
	ctx := t.Context()
	dir = t.TempDir()
	pauseTar, appTar := testImages(t, dir, appImage)
	cfg = Config{
		StateDir:   filepath.Join(dir, "containerd"),
		CNIConfDir: filepath.Join(dir, "net.d"),
		PodCIDR:    podCIDR,
		BridgeName: fmt.Sprintf("skct%04x", rand.IntN(1<<16)),
		PauseImage: pauseTar,
		Logger:     testLogger(t),
	}
	start := time.Now()
	rt, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Logf("New (start containerd, import pause image) took %s", time.Since(start))
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	if err := ImportImages(ctx, SocketPath(cfg.StateDir), appTar); err != nil {
		t.Fatalf("ImportImages: %v", err)
	}
	waitFor(t, 10*time.Second, "imported image listed", func() (bool, error) {
		resp, err := rt.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: appImage}, false)
		return resp.GetImage() != nil, err
	})
	return rt, cfg, dir
}

func TestRuntime(t *testing.T) {
	requireContainerd(t)
	ctx := t.Context()
	hostDirsBefore := missingHostDirs()
	natBefore, err := exec.Command("iptables-save", "-t", "nat").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	rt, cfg, dir := startTestRuntime(t, randomCIDR())
	containerdPID := rt.daemon.cmd.Process.Pid

	uid := fmt.Sprintf("%08x-test", rand.Uint32())
	pod := testPod(dir, "pod1", uid)
	if err := os.MkdirAll(pod.LogDirectory, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sandboxID, err := rt.RunPodSandbox(ctx, pod, "")
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	t.Logf("RunPodSandbox took %s", time.Since(start))

	t.Run("sandbox has an IP in the pod CIDR", func(t *testing.T) {
		resp, err := rt.PodSandboxStatus(ctx, sandboxID, false)
		if err != nil {
			t.Fatal(err)
		}
		if s := resp.GetStatus().GetState(); s != runtimeapi.PodSandboxState_SANDBOX_READY {
			t.Errorf("state %v, want SANDBOX_READY", s)
		}
		ip, err := netip.ParseAddr(resp.GetStatus().GetNetwork().GetIp())
		if err != nil || !cfg.PodCIDR.Contains(ip) {
			t.Errorf("sandbox IP %q, want one in %s", resp.GetStatus().GetNetwork().GetIp(), cfg.PodCIDR)
		}
		list, err := rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{
			LabelSelector: map[string]string{"io.kubernetes.pod.uid": uid},
		})
		if err != nil || len(list) != 1 || list[0].Id != sandboxID {
			t.Errorf("ListPodSandbox by pod uid: %v, %v; want the sandbox", list, err)
		}
	})

	// run creates and starts a container and returns its ID.
	run := func(t *testing.T, c *runtimeapi.ContainerConfig) string {
		t.Helper()
		start := time.Now()
		id, err := rt.CreateContainer(ctx, sandboxID, c, pod)
		if err != nil {
			t.Fatalf("CreateContainer: %v", err)
		}
		created := time.Since(start)
		if err := rt.StartContainer(ctx, id); err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		t.Logf("CreateContainer took %s, StartContainer %s", created, time.Since(start)-created)
		return id
	}
	exited := func(t *testing.T, id string) *runtimeapi.ContainerStatus {
		t.Helper()
		var status *runtimeapi.ContainerStatus
		waitFor(t, 15*time.Second, "container exited", func() (bool, error) {
			resp, err := rt.ContainerStatus(ctx, id, false)
			status = resp.GetStatus()
			return status.GetState() == runtimeapi.ContainerState_CONTAINER_EXITED, err
		})
		return status
	}
	logOf := func(t *testing.T, name string) string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(pod.LogDirectory, name, "0.log"))
		if err != nil {
			t.Fatalf("container log: %v", err)
		}
		return string(data)
	}

	t.Run("container output, exit code and reason", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			args       []string
			wantCode   int32
			wantReason string
			wantLog    []string
		}{
			{"completes", []string{"echo", "hello", "world"}, 0, "Completed", []string{" stdout F hello\n", " stdout F world\n"}},
			{"fails", []string{"exit", "3"}, 3, "Error", []string{" stderr F exiting 3\n"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := run(t, testContainer(appImage, tc.name, tc.args...))
				s := exited(t, id)
				if s.ExitCode != tc.wantCode || s.Reason != tc.wantReason {
					t.Errorf("exit code %d reason %q, want %d %q", s.ExitCode, s.Reason, tc.wantCode, tc.wantReason)
				}
				// containerd 1.6 may report a FinishedAt a little before
				// StartedAt for a container that exits at once.
				if s.StartedAt == 0 || s.FinishedAt == 0 {
					t.Errorf("started at %d, finished at %d", s.StartedAt, s.FinishedAt)
				}
				log := logOf(t, tc.name)
				for _, want := range tc.wantLog {
					if !strings.Contains(log, want) {
						t.Errorf("log %q lacks %q", log, want)
					}
				}
				if err := rt.RemoveContainer(ctx, id); err != nil {
					t.Errorf("RemoveContainer: %v", err)
				}
			})
		}
	})

	t.Run("StopContainer and ExecSync", func(t *testing.T) {
		id := run(t, testContainer(appImage, "server"))
		waitFor(t, 10*time.Second, "container logs ready", func() (bool, error) {
			data, _ := os.ReadFile(filepath.Join(pod.LogDirectory, "server", "0.log"))
			return strings.Contains(string(data), "stdout F ready"), nil
		})
		list, err := rt.ListContainers(ctx, &runtimeapi.ContainerFilter{
			LabelSelector: map[string]string{"io.kubernetes.container.name": "server"},
		})
		if err != nil || len(list) != 1 || list[0].State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Errorf("ListContainers by name: %v, %v; want the running container", list, err)
		}

		stdout, stderr, err := rt.ExecSync(ctx, id, []string{"/app", "echo", "hi"}, 10*time.Second)
		if err != nil || string(stdout) != "hi\n" || len(stderr) != 0 {
			t.Errorf("ExecSync echo: stdout %q stderr %q err %v, want \"hi\\n\"", stdout, stderr, err)
		}
		_, stderr, err = rt.ExecSync(ctx, id, []string{"/app", "exit", "7"}, 10*time.Second)
		var exitErr utilexec.CodeExitError
		if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 7 || string(stderr) != "exiting 7\n" {
			t.Errorf("ExecSync exit 7: stderr %q err %v, want a CodeExitError with code 7", stderr, err)
		}

		resp, err := rt.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: id, Cmd: []string{"/app", "echo"}, Stdout: true})
		if err != nil || !strings.HasPrefix(resp.GetUrl(), "http://127.0.0.1:") || strings.HasPrefix(resp.GetUrl(), "http://127.0.0.1:0/") {
			t.Errorf("Exec: URL %q, err %v; want one on containerd's streaming server", resp.GetUrl(), err)
		}

		start := time.Now()
		if err := rt.StopContainer(ctx, id, 10); err != nil {
			t.Fatalf("StopContainer: %v", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("StopContainer took %s though the container exits on SIGTERM", took)
		}
		s := exited(t, id)
		if s.ExitCode != 0 || s.Reason != "Completed" {
			t.Errorf("stopped container: exit code %d reason %q, want 0 Completed", s.ExitCode, s.Reason)
		}
		if log := logOf(t, "server"); !strings.Contains(log, "stdout F terminated") {
			t.Errorf("log %q lacks the program's SIGTERM message", log)
		}
	})

	t.Run("pulling a missing image fails with containerd's message", func(t *testing.T) {
		const missing = "localhost/skiff/does-not-exist:v0"
		_, err := rt.PullImage(ctx, &runtimeapi.ImageSpec{Image: missing}, nil, pod)
		if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "failed to") {
			t.Errorf("PullImage: %v, want containerd's error naming %s", err, missing)
		}
	})

	// A second pod with a host port, left running for Close to stop.
	pod2 := testPod(dir, "pod2", uid+"2")
	pod2.PortMappings = []*runtimeapi.PortMapping{{
		Protocol: runtimeapi.Protocol_TCP, ContainerPort: 8080, HostPort: 31000 + rand.Int32N(1000),
	}}
	if _, err := rt.RunPodSandbox(ctx, pod2, ""); err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	nat, err := exec.Command("iptables-save", "-t", "nat").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	for _, want := range []string{
		`name: \"` + cfg.BridgeName + `\"`, // the bridge's masquerading
		fmt.Sprintf("--dport %d", pod2.PortMappings[0].HostPort),
	} {
		if !strings.Contains(string(nat), want) {
			t.Errorf("no nat rule with %q while the pods run:\n%s", want, nat)
		}
	}

	t.Run("a user's endpoint", func(t *testing.T) {
		user, err := New(ctx, Config{Endpoint: "unix://" + SocketPath(cfg.StateDir), Logger: cfg.Logger})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		v, err := user.Version(ctx, "v1")
		if err != nil || v.RuntimeName != "containerd" {
			t.Errorf("Version: %v, %v; want containerd's", v, err)
		}
		if err := user.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		// Closing the connection leaves that containerd and its pods be.
		if list, err := rt.ListPodSandbox(ctx, nil); err != nil || len(list) != 2 {
			t.Errorf("after closing a user's endpoint: %d sandboxes, %v; want 2", len(list), err)
		}
	})

	start = time.Now()
	if err := rt.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	t.Logf("Close took %s", time.Since(start))
	assertCleanedUp(t, cfg, dir, containerdPID, uid)
	if !strings.Contains(string(natBefore), "CNI-HOSTPORT-DNAT") {
		out, _ := exec.Command("iptables-save", "-t", "nat").Output()
		if strings.Contains(string(out), "CNI-HOSTPORT-") {
			t.Errorf("the portmap plugin's chains are left:\n%s", out)
		}
	}
	if left := missingHostDirs(); len(left) != len(hostDirsBefore) {
		t.Errorf("directories missing before the test: %v, after: %v", hostDirsBefore, left)
	}
}

// assertCleanedUp checks that nothing of the runtime is left on the host.
func assertCleanedUp(t *testing.T, cfg Config, dir string, containerdPID int, uid string) {
	t.Helper()
	if err := syscall.Kill(containerdPID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("containerd (pid %d) still runs", containerdPID)
	}
	if _, err := netlink.LinkByName(cfg.BridgeName); err == nil {
		t.Errorf("bridge %s is still there", cfg.BridgeName)
	}
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, `name: \"`+cfg.BridgeName+`\"`) || strings.Contains(line, cfg.PodCIDR.String()) {
			t.Errorf("iptables rule left: %s", line)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), dir) {
		t.Errorf("mounts left under %s:\n%s", dir, mounts)
	}
	entries, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, e := range entries {
		data, _ := os.ReadFile(e)
		if strings.Contains(string(data), cfg.StateDir) {
			t.Errorf("process left: %s", strings.ReplaceAll(string(data), "\x00", " "))
		}
	}
	for _, ctrl := range []string{"memory", "cpu", "pids"} {
		p := filepath.Join(cgroupRoot, ctrl, "skiff", "pod"+uid)
		if _, err := os.Stat(p); err == nil {
			t.Errorf("cgroup %s is left", p)
		}
	}
}

func TestNewFails(t *testing.T) {
	requireContainerd(t)
	dir := t.TempDir()
	cfg := Config{
		StateDir:   filepath.Join(dir, "containerd"),
		CNIConfDir: filepath.Join(dir, "net.d"),
		PodCIDR:    netip.MustParsePrefix("10.245.0.0/24"),
		BridgeName: fmt.Sprintf("skct%04x", rand.IntN(1<<16)),
		Logger:     testLogger(t),
	}
	for _, tc := range []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"pause image missing", func(c *Config) { c.PauseImage = filepath.Join(dir, "nope.tar") }, "nope.tar"},
		{"no pause image", func(c *Config) {}, "no pause image"},
		{"no pod CIDR", func(c *Config) { c.PodCIDR = netip.Prefix{} }, "no pod CIDR"},
		{"state dir too long", func(c *Config) { c.StateDir = filepath.Join(dir, strings.Repeat("d", 100)) }, "too long"},
		{"containerd not installed", func(c *Config) { t.Setenv("PATH", dir) }, "containerd is not installed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cfg
			tc.change(&cfg)
			_, err := New(t.Context(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New: %v, want an error with %q", err, tc.wantErr)
			}
			t.Logf("New: %v", err)
			entries, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, e := range entries {
				data, _ := os.ReadFile(e)
				if strings.Contains(string(data), cfg.StateDir) {
					t.Errorf("process left: %s", strings.ReplaceAll(string(data), "\x00", " "))
				}
			}
		})
	}
}

// TestCloseAfterContainerdDied checks that Close cleans up after a
// containerd that died with pods running: their processes, shims, network
// and cgroups.
func TestCloseAfterContainerdDied(t *testing.T) {
	ctx := t.Context()
	rt, cfg, dir := startTestRuntime(t, randomCIDR())
	uid := fmt.Sprintf("%08x-crash", rand.Uint32())
	pod := testPod(dir, "pod", uid)
	sandboxID, err := rt.RunPodSandbox(ctx, pod, "")
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	id, err := rt.CreateContainer(ctx, sandboxID, testContainer(appImage, "server"), pod)
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if err := rt.StartContainer(ctx, id); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}

	containerdPID := rt.daemon.cmd.Process.Pid
	if err := rt.daemon.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-rt.daemon.done
	if err := rt.Close(ctx); err == nil {
		t.Errorf("Close after containerd died: no error, want the sandbox it could not remove")
	}
	assertCleanedUp(t, cfg, dir, containerdPID, uid)
	files, _ := filepath.Glob(filepath.Join(cniCacheDir, "*"))
	for _, f := range files {
		if data, _ := os.ReadFile(f); strings.Contains(string(data), dir) {
			t.Errorf("CNI cache left: %s", f)
		}
	}
}
