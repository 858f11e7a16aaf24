//go:build integration

package process

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"k8s.io/apimachinery/pkg/util/wait"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"
)

const busybox = "/bin/busybox"

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type testEnv struct {
	r      *Runtime
	bridge string
	cidr   netip.Prefix
}

// newTestRuntime starts a runtime with its own bridge and pod CIDR, torn
// down (and checked) when the test ends.
func newTestRuntime(t testing.TB) *testEnv {
	t.Helper()
	return newTestRuntimeIn(t, randomCIDR())
}

// randomCIDR is a pod CIDR unlikely to be another test's.
func randomCIDR() netip.Prefix {
	b := make([]byte, 1)
	_, _ = rand.Read(b)
	return netip.MustParsePrefix(fmt.Sprintf("10.244.%d.0/24", 100+int(b[0])%150))
}

// newTestRuntimeIn is newTestRuntime with the pod CIDR cidr.
func newTestRuntimeIn(t testing.TB, cidr netip.Prefix) *testEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs root")
	}
	if os.Geteuid() != 0 {
		t.Skip("the process runtime tests need root")
	}
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("needs " + busybox)
	}
	env := &testEnv{bridge: "sktest" + randHex(3), cidr: cidr}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	r, err := New(context.Background(), Config{
		StateDir:   t.TempDir(),
		PodCIDR:    cidr,
		BridgeName: env.bridge,
		Logger:     log,
	})
	if err != nil {
		t.Fatal(err)
	}
	env.r = r
	t.Cleanup(func() {
		if err := r.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := netlink.LinkByName(env.bridge); err == nil {
			t.Errorf("bridge %s still exists after Close", env.bridge)
		}
		if left, _ := filepath.Glob(filepath.Join(netnsDir, "skiff-*")); len(left) > 0 {
			for _, p := range left {
				if strings.HasPrefix(filepath.Base(p), "skiff-") && r.ownsNetns(p) {
					t.Errorf("network namespace %s still exists after Close", p)
				}
			}
		}
	})
	return env
}

// ownsNetns is only used by tests: whether a netns file was one of ours.
func (r *Runtime) ownsNetns(p string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sandboxes {
		if s.net != nil && s.net.Netns == p {
			return true
		}
	}
	return false
}

func (e *testEnv) sandbox(t testing.TB, name string) (string, *runtimeapi.PodSandboxConfig) {
	t.Helper()
	uid := randHex(8)
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: uid},
		Hostname:     name,
		LogDirectory: filepath.Join(t.TempDir(), "default_"+name+"_"+uid),
		Labels:       map[string]string{"io.kubernetes.pod.name": name, "io.kubernetes.pod.uid": uid},
		Linux:        &runtimeapi.LinuxPodSandboxConfig{CgroupParent: "/skiff/pod" + uid},
	}
	id, err := e.r.RunPodSandbox(context.Background(), cfg, "")
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	return id, cfg
}

func containerConfig(name string, script string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: "localhost/skiff/model-server:v1"},
		Command:  []string{busybox, "sh", "-c", script},
		LogPath:  name + "/0.log",
		Labels:   map[string]string{"io.kubernetes.container.name": name},
	}
}

func (e *testEnv) run(t *testing.T, sandboxID string, sc *runtimeapi.PodSandboxConfig, cc *runtimeapi.ContainerConfig) string {
	t.Helper()
	id, err := e.r.CreateContainer(context.Background(), sandboxID, cc, sc)
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if err := e.r.StartContainer(context.Background(), id); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	return id
}

// poll calls cond until it is true, returns an error or timeout passes.
func poll(t testing.TB, timeout time.Duration, cond func() (bool, error)) error {
	t.Helper()
	return wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond()
	})
}

func (e *testEnv) waitExited(t *testing.T, id string, within time.Duration) *runtimeapi.ContainerStatus {
	t.Helper()
	var st *runtimeapi.ContainerStatus
	err := poll(t, within, func() (bool, error) {
		resp, err := e.r.ContainerStatus(context.Background(), id, false)
		if err != nil {
			return false, err
		}
		st = resp.Status
		return st.State == runtimeapi.ContainerState_CONTAINER_EXITED, nil
	})
	if err != nil {
		t.Fatalf("container did not exit within %s: %v", within, err)
	}
	return st
}

// waitLog waits for the container's log to hold want.
func (e *testEnv) waitLog(t *testing.T, id, want string) {
	t.Helper()
	err := poll(t, 5*time.Second, func() (bool, error) {
		st, err := e.r.ContainerStatus(context.Background(), id, false)
		if err != nil {
			return false, err
		}
		b, _ := os.ReadFile(st.Status.LogPath)
		return strings.Contains(string(b), want), nil
	})
	if err != nil {
		t.Fatalf("log of %s lacks %q: %v", id, want, err)
	}
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	return string(b)
}

func TestSandboxOwnNetwork(t *testing.T) {
	e := newTestRuntime(t)
	ctx := context.Background()
	sid, sc := e.sandbox(t, "net")
	st, err := e.r.PodSandboxStatus(ctx, sid, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Errorf("state = %v, want READY", st.Status.State)
	}
	ip, err := netip.ParseAddr(st.Status.Network.GetIp())
	if err != nil || !e.cidr.Contains(ip) || ip == e.cidr.Addr().Next() {
		t.Fatalf("pod IP %q is not a pod address of %s", st.Status.Network.GetIp(), e.cidr)
	}
	if st.Status.Metadata.GetName() != "net" || st.Status.Labels["io.kubernetes.pod.name"] != "net" || st.Status.CreatedAt == 0 {
		t.Errorf("status lacks metadata/labels/createdAt: %v", st.Status)
	}
	// A second pod gets another address.
	sid2, _ := e.sandbox(t, "net2")
	st2, _ := e.r.PodSandboxStatus(ctx, sid2, false)
	if st2.Status.Network.GetIp() == ip.String() {
		t.Errorf("two pods share %s", ip)
	}

	hostNS, _ := os.Readlink("/proc/self/ns/net")
	cid := e.run(t, sid, sc, containerConfig("ip", busybox+" ip -o -4 addr show eth0; readlink /proc/self/ns/net; hostname"))
	cs := e.waitExited(t, cid, 10*time.Second)
	if cs.ExitCode != 0 {
		t.Fatalf("exit code %d: %s", cs.ExitCode, readLog(t, cs.LogPath))
	}
	out := readLog(t, cs.LogPath)
	if !strings.Contains(out, ip.String()+"/24") {
		t.Errorf("eth0 in the pod does not have %s/24:\n%s", ip, out)
	}
	if strings.Contains(out, hostNS) {
		t.Errorf("the container ran in the host's network namespace %s:\n%s", hostNS, out)
	}
	if !strings.Contains(out, "stdout F net\n") {
		t.Errorf("the container's hostname is not the pod's:\n%s", out)
	}

	// The host reaches the pod through the bridge: a listener in the pod.
	cid = e.run(t, sid, sc, containerConfig("srv", "exec "+busybox+" nc -l -p 8081 -e "+busybox+" echo from-pod"))
	var conn net.Conn
	if perr := poll(t, 5*time.Second, func() (bool, error) {
		conn, err = net.DialTimeout("tcp", net.JoinHostPort(ip.String(), "8081"), time.Second)
		return err == nil, nil
	}); perr != nil {
		t.Fatalf("dial the pod from the host: %v (%v)", err, perr)
	}
	line, _ := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if line != "from-pod\n" {
		t.Errorf("read %q from the pod, want from-pod", line)
	}
	_ = e.r.StopContainer(ctx, cid, 0)

	info, _ := e.r.PodSandboxStatus(ctx, sid, true)
	netnsPath := info.Info["netns"]
	if err := e.r.StopPodSandbox(ctx, sid); err != nil {
		t.Fatal(err)
	}
	st, _ = e.r.PodSandboxStatus(ctx, sid, false)
	if st.Status.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("state after stop = %v", st.Status.State)
	}
	if err := e.r.RemovePodSandbox(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(netnsPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns %s still exists after RemovePodSandbox", netnsPath)
	}
	if _, err := e.r.PodSandboxStatus(ctx, sid, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("status of a removed sandbox: %v, want not found", err)
	}
	if err := e.r.RemovePodSandbox(ctx, sid); err != nil {
		t.Errorf("second RemovePodSandbox: %v", err)
	}
}

func TestHostNetworkPod(t *testing.T) {
	e := newTestRuntime(t)
	ctx := context.Background()
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "hostnet", Namespace: "default", Uid: randHex(8)},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
		}},
	}
	id, err := e.r.RunPodSandbox(ctx, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := e.r.PodSandboxStatus(ctx, id, false)
	if ip := st.Status.Network.GetIp(); ip != e.r.nodeIP {
		t.Errorf("host-network pod IP = %q, want the node's %q", ip, e.r.nodeIP)
	}
	if got := st.Status.Linux.Namespaces.Options.Network; got != runtimeapi.NamespaceMode_NODE {
		t.Errorf("network mode = %v", got)
	}
}

func TestLogsEnvAndExitCodes(t *testing.T) {
	e := newTestRuntime(t)
	sid, sc := e.sandbox(t, "logs")
	tests := []struct {
		name       string
		script     string
		wantCode   int32
		wantReason string
		wantLog    []string // regexps, in order
	}{
		{"ok", `echo "hello $GREETING"; echo oops >&2; printf 'no newline'`, 0, "Completed", []string{
			`^\S+ stdout F hello world$`, `^\S+ stderr F oops$`, `^\S+ stdout F no newline$`}},
		{"fails", "echo failing; exit 3", 3, "Error", []string{`^\S+ stdout F failing$`}},
		{"killed", "kill -9 $$", 137, "Error", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := containerConfig(tt.name, tt.script)
			cc.Envs = []*runtimeapi.KeyValue{{Key: "GREETING", Value: []byte("world")}}
			id := e.run(t, sid, sc, cc)
			st := e.waitExited(t, id, 10*time.Second)
			if st.ExitCode != tt.wantCode || st.Reason != tt.wantReason {
				t.Errorf("exit %d %q, want %d %q", st.ExitCode, st.Reason, tt.wantCode, tt.wantReason)
			}
			if st.StartedAt == 0 || st.FinishedAt < st.StartedAt || st.CreatedAt == 0 {
				t.Errorf("times: created %d started %d finished %d", st.CreatedAt, st.StartedAt, st.FinishedAt)
			}
			if want := filepath.Join(sc.LogDirectory, tt.name, "0.log"); st.LogPath != want {
				t.Errorf("log path %q, want %q", st.LogPath, want)
			}
			lines := strings.Split(strings.TrimSuffix(readLog(t, st.LogPath), "\n"), "\n")
			var got []string
			for _, l := range lines {
				if l != "" {
					got = append(got, l)
				}
			}
			if len(got) != len(tt.wantLog) {
				t.Fatalf("log has %d lines, want %d:\n%s", len(got), len(tt.wantLog), strings.Join(got, "\n"))
			}
			// stdout and stderr are copied concurrently: match as a set.
			for _, re := range tt.wantLog {
				found := false
				for _, l := range got {
					if regexp.MustCompile(re).MatchString(l) {
						found = true
					}
				}
				if !found {
					t.Errorf("no log line matches %s:\n%s", re, strings.Join(got, "\n"))
				}
			}
			for _, l := range got {
				ts, _, _ := strings.Cut(l, " ")
				if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
					t.Errorf("bad timestamp in %q: %v", l, err)
				}
			}
		})
	}
}

func TestNoCommand(t *testing.T) {
	e := newTestRuntime(t)
	sid, sc := e.sandbox(t, "nocmd")
	cc := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "server"},
		Image:    &runtimeapi.ImageSpec{Image: "localhost/skiff/model-server:v1"},
	}
	_, err := e.r.CreateContainer(context.Background(), sid, cc, sc)
	want := `container "server" has no command: the process runtime runs commands on the host and cannot run the image "localhost/skiff/model-server:v1"; set command in the pod spec or use --runtime=cri`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func TestStopContainer(t *testing.T) {
	e := newTestRuntime(t)
	sid, sc := e.sandbox(t, "stop")
	tests := []struct {
		name     string
		script   string
		timeout  int64
		wantCode int32
		minTime  time.Duration
	}{
		{"honours SIGTERM", "echo ready; exec " + busybox + " sleep 100", 5, 143, 0},
		{"ignores SIGTERM", "trap '' TERM; echo ready; while true; do " + busybox + " sleep 0.1; done", 1, 137, time.Second},
		{"timeout zero kills at once", "trap '' TERM; echo ready; while true; do " + busybox + " sleep 0.1; done", 0, 137, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := e.run(t, sid, sc, containerConfig(fmt.Sprintf("c%d", i), tt.script))
			e.waitLog(t, id, "stdout F ready") // the shell set its trap
			start := time.Now()
			if err := e.r.StopContainer(context.Background(), id, tt.timeout); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			st, _ := e.r.ContainerStatus(context.Background(), id, false)
			if st.Status.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.Status.ExitCode != tt.wantCode {
				t.Errorf("after stop: %v exit %d, want EXITED %d", st.Status.State, st.Status.ExitCode, tt.wantCode)
			}
			if took < tt.minTime || took > tt.minTime+3*time.Second {
				t.Errorf("stop took %s, want about %s", took, tt.minTime)
			}
			if err := e.r.RemoveContainer(context.Background(), id); err != nil {
				t.Errorf("RemoveContainer: %v", err)
			}
			if _, err := os.Stat(st.Status.LogPath); err != nil {
				t.Errorf("log removed with the container: %v", err)
			}
		})
	}
}

func TestOOMKilled(t *testing.T) {
	e := newTestRuntime(t)
	if e.r.cg.disabled {
		t.Skip("no cgroups")
	}
	sid, sc := e.sandbox(t, "oom")
	cc := containerConfig("hog", busybox+" dd if=/dev/zero bs=64M count=1 | "+busybox+` sh -c 'x=$(cat); echo survived'`)
	cc.Linux = &runtimeapi.LinuxContainerConfig{Resources: &runtimeapi.LinuxContainerResources{
		MemoryLimitInBytes: 16 << 20, CpuPeriod: 100000, CpuQuota: 50000, CpuShares: 512,
	}}
	id := e.run(t, sid, sc, cc)
	st := e.waitExited(t, id, 20*time.Second)
	if st.Reason != "OOMKilled" {
		t.Errorf("reason %q (exit %d), want OOMKilled; log:\n%s", st.Reason, st.ExitCode, readLog(t, st.LogPath))
	}
}

func TestCgroupLimits(t *testing.T) {
	e := newTestRuntime(t)
	if e.r.cg.disabled || e.r.cg.v2 {
		t.Skip("needs cgroup v1")
	}
	sid, sc := e.sandbox(t, "limits")
	cc := containerConfig("limited", busybox+" sleep 100 & wait")
	cc.Linux = &runtimeapi.LinuxContainerConfig{Resources: &runtimeapi.LinuxContainerResources{
		MemoryLimitInBytes: 64 << 20, CpuPeriod: 100000, CpuQuota: 25000, CpuShares: 256,
	}}
	id := e.run(t, sid, sc, cc)
	rel := sc.Linux.CgroupParent + "/" + id
	files := map[string]string{
		"memory/" + rel + "/memory.limit_in_bytes": "67108864",
		"cpu/" + rel + "/cpu.cfs_quota_us":         "25000",
		"cpu/" + rel + "/cpu.cfs_period_us":        "100000",
		"cpu/" + rel + "/cpu.shares":               "256",
	}
	for f, want := range files {
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", f))
		if err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s = %q (%v), want %s", f, b, err, want)
		}
	}
	// The shell and its child sleep are both in the container's cgroup
	// (the shell runs nothing else that could be counted).
	_ = poll(t, 5*time.Second, func() (bool, error) { return len(e.r.cg.procs(rel)) == 2, nil })
	if n := len(e.r.cg.procs(rel)); n != 2 {
		t.Errorf("%d processes in the container cgroup, want 2", n)
	}
	if err := e.r.RemoveContainer(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", rel)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("container cgroup still exists after RemoveContainer")
	}
	if err := e.r.RemovePodSandbox(context.Background(), sid); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", sc.Linux.CgroupParent)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pod cgroup still exists after RemovePodSandbox")
	}
}

func TestExecSync(t *testing.T) {
	e := newTestRuntime(t)
	sid, sc := e.sandbox(t, "exec")
	cc := containerConfig("main", "exec "+busybox+" sleep 100")
	cc.Envs = []*runtimeapi.KeyValue{{Key: "SECRET", Value: []byte("s3cr3t")}}
	id := e.run(t, sid, sc, cc)
	st, _ := e.r.PodSandboxStatus(context.Background(), sid, false)
	tests := []struct {
		name       string
		cmd        []string
		wantCode   int
		wantStdout string
	}{
		{"env", []string{busybox, "sh", "-c", "echo $SECRET"}, 0, "s3cr3t\n"},
		{"exit code", []string{busybox, "sh", "-c", "echo out; exit 7"}, 7, "out\n"},
		{"pod network", []string{busybox, "sh", "-c", busybox + " ip -o -4 addr show eth0 | " + busybox + " grep -c " + st.Status.Network.Ip + "/"}, 0, "1\n"},
		{"PATH lookup", []string{"busybox", "true"}, 0, ""},
		{"pod hostname", []string{busybox, "hostname"}, 0, "exec\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, _, err := e.r.ExecSync(context.Background(), id, tt.cmd, 5*time.Second)
			code := 0
			var ce utilexec.CodeExitError
			if errors.As(err, &ce) {
				code = ce.Code
			} else if err != nil {
				t.Fatalf("ExecSync: %v", err)
			}
			if code != tt.wantCode || string(stdout) != tt.wantStdout {
				t.Errorf("got exit %d stdout %q, want %d %q", code, stdout, tt.wantCode, tt.wantStdout)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		_, _, err := e.r.ExecSync(context.Background(), id, []string{busybox, "sleep", "30"}, 300*time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want a deadline error", err)
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("timeout took %s", time.Since(start))
		}
	})
}

// waitForward forwards to port of the sandbox until the server there
// answers, and returns its answer.
func (e *testEnv) waitForward(t *testing.T, sid string, port int32) string {
	t.Helper()
	var (
		reply string
		err   error
	)
	_ = poll(t, 5*time.Second, func() (bool, error) {
		client, server := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- e.r.portForward(context.Background(), sid, port, server) }()
		b, _ := io.ReadAll(client)
		client.Close()
		err = <-done
		reply = string(b)
		return err == nil && reply != "", nil
	})
	if err != nil {
		t.Fatalf("port forward: %v", err)
	}
	return reply
}

func TestPortForward(t *testing.T) {
	e := newTestRuntime(t)
	sid, sc := e.sandbox(t, "pf")
	// A server in the pod's namespace: the host's loopback has no such port.
	port := 20000 + int32(time.Now().UnixNano()%10000)
	e.run(t, sid, sc, containerConfig("srv", fmt.Sprintf("exec %s nc -ll -p %d -e %s echo pong", busybox, port, busybox)))
	reply := e.waitForward(t, sid, port)
	if reply != "pong\n" {
		t.Errorf("read %q through port-forward, want pong", reply)
	}
	resp, err := e.r.PortForward(context.Background(), &runtimeapi.PortForwardRequest{PodSandboxId: sid, Port: []int32{port}})
	if err != nil || !strings.HasPrefix(resp.GetUrl(), e.r.StreamingURL()+"/portforward/") {
		t.Errorf("PortForward URL %v, %v", resp.GetUrl(), err)
	}
}

func TestMounts(t *testing.T) {
	e := newTestRuntime(t)
	sid, sc := e.sandbox(t, "mounts")
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "key"), []byte("value"), 0o644); err != nil {
		t.Fatal(err)
	}
	dstParent := t.TempDir()
	dst := filepath.Join(dstParent, "config") // created by the runtime
	cc := containerConfig("m", "cat "+dst+"/key; echo; touch "+dst+"/new && echo writable || echo readonly")
	cc.Mounts = []*runtimeapi.Mount{{HostPath: src, ContainerPath: dst, Readonly: true}}
	id := e.run(t, sid, sc, cc)
	st := e.waitExited(t, id, 10*time.Second)
	log := readLog(t, st.LogPath)
	if !strings.Contains(log, "stdout F value\n") || !strings.Contains(log, "stdout F readonly\n") {
		t.Errorf("container did not see a read-only mount:\n%s", log)
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Errorf("the mount leaked to the host: %v", entries)
	}

	// Exec runs in the container's mount namespace.
	long := containerConfig("long", "exec "+busybox+" sleep 100")
	long.Mounts = cc.Mounts
	lid := e.run(t, sid, sc, long)
	out, _, err := e.r.ExecSync(context.Background(), lid, []string{busybox, "cat", dst + "/key"}, 5*time.Second)
	if err != nil || string(out) != "value" {
		t.Errorf("exec in a container with a mount: %q, %v", out, err)
	}

	bad := containerConfig("bad", "true")
	bad.Mounts = []*runtimeapi.Mount{{HostPath: filepath.Join(src, "missing-"+randHex(4)), ContainerPath: "/x"}}
	bid, err := e.r.CreateContainer(context.Background(), sid, bad, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.r.StartContainer(context.Background(), bid); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("StartContainer with a missing mount source: %v", err)
	}
}

func TestListFilters(t *testing.T) {
	e := newTestRuntime(t)
	ctx := context.Background()
	sid, sc := e.sandbox(t, "list")
	other, _ := e.sandbox(t, "other")
	running := e.run(t, sid, sc, containerConfig("running", "exec "+busybox+" sleep 100"))
	created, err := e.r.CreateContainer(ctx, sid, containerConfig("created", "true"), sc)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(cs []*runtimeapi.Container) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Id)
		}
		return out
	}
	tests := []struct {
		name   string
		filter *runtimeapi.ContainerFilter
		want   []string
	}{
		{"by id", &runtimeapi.ContainerFilter{Id: running}, []string{running}},
		{"by state", &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_CREATED}}, []string{created}},
		{"by label", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"io.kubernetes.container.name": "running"}}, []string{running}},
		{"by other sandbox", &runtimeapi.ContainerFilter{PodSandboxId: other}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.r.ListContainers(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(ids(got)) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", ids(got), tt.want)
			}
		})
	}
	pods, _ := e.r.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"io.kubernetes.pod.name": "other"}})
	if len(pods) != 1 || pods[0].Id != other {
		t.Errorf("ListPodSandbox by label: %v", pods)
	}
}
