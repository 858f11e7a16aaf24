package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"

	"skiff.dev/skiff/internal/agent/runtime"
)

// Implementation describes the runtime under test.
type Implementation struct {
	// New starts a fresh runtime for one run of the suite; it must also be
	// a runtime.Closer, and Image must be present in it. The suite closes
	// it (New may register a cleanup that closes it again if the suite
	// failed before).
	New func(t *testing.T) runtime.Runtime
	// PodCIDR, when valid, must hold every sandbox's IP; else any valid
	// IP will do.
	PodCIDR netip.Prefix
	// Image is the image the suite's containers run.
	Image string
	// AbsentImage is an image the runtime does not have and cannot pull:
	// ImageStatus must report it absent and PullImage fail naming it.
	// Empty for a runtime without an image store (the process runtime):
	// then every image must be reported present and PullImage succeed.
	AbsentImage string
	// Programs are the suite's programs in this runtime.
	Programs Programs
	// Released, if set, checks after Close that nothing of the runtime is
	// left on the host (processes, network, cgroups of the pods with these
	// UIDs).
	Released func(t *testing.T, podUIDs []string)
}

// Programs are the command lines (ContainerConfig.Command, with no Args;
// ExecSync's cmd) of the programs the suite runs.
type Programs struct {
	// Echo prints each word on a line of its own on stdout and exits 0.
	Echo func(words ...string) []string
	// Exit prints "exiting CODE" on stderr and exits with code.
	Exit func(code int) []string
	// Serve prints "ready" on stdout and waits for SIGTERM, then prints
	// "terminated" and exits 0.
	Serve []string
	// IgnoreTerm prints "ready" on stdout and ignores SIGTERM.
	IgnoreTerm []string
	// Status prints its own /proc/self/status on stdout and exits 0; nil
	// for a runtime that runs no processes (the fake), whose security
	// contexts then go untested.
	Status []string
}

// Timeouts of the suite's waits.
const (
	pollInterval = 20 * time.Millisecond
	exitTimeout  = 15 * time.Second
	readyTimeout = 15 * time.Second
)

// criLogLine is a line of the CRI log format.
var criLogLine = regexp.MustCompile(`^\S+ (stdout|stderr) [FP] .*$`)

// suite holds one run's runtime and pod.
type suite struct {
	impl Implementation
	rt   runtime.Runtime
	dir  string
	uids []string
}

// Run runs the conformance suite against a fresh runtime from impl.
func Run(t *testing.T, impl Implementation) {
	rt := impl.New(t)
	closer, ok := rt.(runtime.Closer)
	if !ok {
		t.Fatalf("%T is not a runtime.Closer", rt)
	}
	s := &suite{impl: impl, rt: rt, dir: t.TempDir()}
	ctx := t.Context()

	t.Run("Version", func(t *testing.T) {
		v, err := rt.Version(ctx, "v1")
		if err != nil {
			t.Fatalf("Version: %v", err)
		}
		if v.RuntimeName == "" || v.RuntimeVersion == "" || v.RuntimeApiVersion != "v1" {
			t.Errorf("Version = %+v, want a name, a version and API v1", v)
		}
	})
	t.Run("images", s.testImages)

	sandboxID, pod := s.runSandbox(t, "pod1")
	t.Run("sandbox status and list", func(t *testing.T) { s.testSandbox(t, sandboxID, pod) })
	t.Run("exit code, reason, times and log", func(t *testing.T) { s.testExits(t, sandboxID, pod) })
	t.Run("list filters, ExecSync and stop on SIGTERM", func(t *testing.T) { s.testServe(t, sandboxID, pod) })
	t.Run("stop kills after the timeout", func(t *testing.T) { s.testKill(t, sandboxID, pod) })
	t.Run("update resources in place", func(t *testing.T) { s.testUpdateResources(t, sandboxID, pod) })
	t.Run("security context", func(t *testing.T) { s.testSecurity(t, sandboxID, pod) })
	t.Run("remove is idempotent", func(t *testing.T) { s.testRemove(t, sandboxID, pod) })
	t.Run("stop and remove the sandbox", func(t *testing.T) { s.testRemoveSandbox(t, sandboxID, pod) })

	// A second pod left running for Close.
	sandbox2, pod2 := s.runSandbox(t, "pod2")
	id := s.start(t, sandbox2, pod2, "server", impl.Programs.Serve)
	s.waitLog(t, pod2, "server", "stdout F ready")
	t.Run("Close", func(t *testing.T) {
		if err := closer.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if l, err := rt.ListPodSandbox(ctx, nil); err == nil && len(l) != 0 {
			t.Errorf("after Close: %d sandboxes listed, want none (or an error)", len(l))
		}
		if l, err := rt.ListContainers(ctx, nil); err == nil && len(l) != 0 {
			t.Errorf("after Close: %d containers listed, want none (or an error)", len(l))
		}
		if resp, err := rt.ContainerStatus(ctx, id, false); err == nil && resp.GetStatus().GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Errorf("after Close: container %s still running", id)
		}
		if impl.Released != nil {
			impl.Released(t, s.uids)
		}
	})
}

func (s *suite) testImages(t *testing.T) {
	ctx := t.Context()
	resp, err := s.rt.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: s.impl.Image}, false)
	if err != nil || resp.GetImage() == nil || resp.GetImage().GetId() == "" {
		t.Errorf("ImageStatus(%s) = %v, %v; want it present with an ID", s.impl.Image, resp, err)
	}
	if s.impl.AbsentImage == "" {
		// No image store: every image is there and pulls succeed.
		const never = "localhost/skiff/runtimetest-never-pulled:v0"
		resp, err := s.rt.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: never}, false)
		if err != nil || resp.GetImage() == nil {
			t.Errorf("ImageStatus(%s) = %v, %v; want it reported present", never, resp, err)
		}
		if ref, err := s.rt.PullImage(ctx, &runtimeapi.ImageSpec{Image: never}, nil, nil); err != nil || ref == "" {
			t.Errorf("PullImage(%s) = %q, %v; want a reference", never, ref, err)
		}
		return
	}
	absent := &runtimeapi.ImageSpec{Image: s.impl.AbsentImage}
	resp, err = s.rt.ImageStatus(ctx, absent, false)
	if err != nil || resp.GetImage() != nil {
		t.Errorf("ImageStatus(%s) = %v, %v; want no image and no error", absent.Image, resp.GetImage(), err)
	}
	if _, err := s.rt.PullImage(ctx, absent, nil, nil); err == nil || !strings.Contains(err.Error(), absent.Image) {
		t.Errorf("PullImage(%s): %v, want an error naming the image", absent.Image, err)
	}
}

// runSandbox runs a sandbox configured as the kubelet does.
func (s *suite) runSandbox(t *testing.T, name string) (string, *runtimeapi.PodSandboxConfig) {
	t.Helper()
	uid := fmt.Sprintf("%08x-rtt", time.Now().UnixNano()&0xffffffff)
	s.uids = append(s.uids, uid)
	pod := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: uid},
		Hostname:     name,
		LogDirectory: filepath.Join(s.dir, "logs", "default_"+name+"_"+uid),
		Labels: map[string]string{
			"io.kubernetes.pod.name":      name,
			"io.kubernetes.pod.namespace": "default",
			"io.kubernetes.pod.uid":       uid,
		},
		Linux: &runtimeapi.LinuxPodSandboxConfig{CgroupParent: "/skiff/pod" + uid},
	}
	if err := os.MkdirAll(pod.LogDirectory, 0o750); err != nil {
		t.Fatal(err)
	}
	id, err := s.rt.RunPodSandbox(t.Context(), pod, "")
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	return id, pod
}

func (s *suite) testSandbox(t *testing.T, id string, pod *runtimeapi.PodSandboxConfig) {
	ctx := t.Context()
	resp, err := s.rt.PodSandboxStatus(ctx, id, false)
	if err != nil {
		t.Fatalf("PodSandboxStatus: %v", err)
	}
	st := resp.GetStatus()
	if st.GetId() != id || st.GetState() != runtimeapi.PodSandboxState_SANDBOX_READY || st.GetCreatedAt() == 0 {
		t.Errorf("status = %v, want %s READY with a creation time", st, id)
	}
	if st.GetMetadata().GetUid() != pod.Metadata.Uid || st.GetLabels()["io.kubernetes.pod.uid"] != pod.Metadata.Uid {
		t.Errorf("status metadata %v labels %v, want the pod's", st.GetMetadata(), st.GetLabels())
	}
	ip, err := netip.ParseAddr(st.GetNetwork().GetIp())
	if err != nil || (s.impl.PodCIDR.IsValid() && !s.impl.PodCIDR.Contains(ip)) {
		t.Errorf("sandbox IP %q, want one in %s", st.GetNetwork().GetIp(), s.impl.PodCIDR)
	}
	ready := &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}
	notReady := &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}
	for _, tc := range []struct {
		name   string
		filter *runtimeapi.PodSandboxFilter
		want   bool
	}{
		{"pod uid label", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"io.kubernetes.pod.uid": pod.Metadata.Uid}}, true},
		{"other uid label", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"io.kubernetes.pod.uid": "other"}}, false},
		{"id", &runtimeapi.PodSandboxFilter{Id: id}, true},
		{"ready", &runtimeapi.PodSandboxFilter{State: ready, LabelSelector: pod.Labels}, true},
		{"not ready", &runtimeapi.PodSandboxFilter{State: notReady, LabelSelector: pod.Labels}, false},
	} {
		list, err := s.rt.ListPodSandbox(ctx, tc.filter)
		if err != nil {
			t.Fatalf("ListPodSandbox %s: %v", tc.name, err)
		}
		found := len(list) == 1 && list[0].Id == id && list[0].State == runtimeapi.PodSandboxState_SANDBOX_READY && list[0].Metadata.GetName() == pod.Metadata.Name
		if found != tc.want || (!tc.want && len(list) != 0) {
			t.Errorf("ListPodSandbox by %s = %v, want the sandbox: %v", tc.name, list, tc.want)
		}
	}
}

// testSecurity checks that a container's processes, and commands exec'd in
// it, run with its security context's user, groups, capabilities and
// no_new_privs.
func (s *suite) testSecurity(t *testing.T, sandboxID string, pod *runtimeapi.PodSandboxConfig) {
	if s.impl.Programs.Status == nil {
		t.Skip("the runtime runs no processes")
	}
	ctx := t.Context()
	user := &runtimeapi.LinuxContainerSecurityContext{
		RunAsUser:          &runtimeapi.Int64Value{Value: 1000},
		RunAsGroup:         &runtimeapi.Int64Value{Value: 3000},
		SupplementalGroups: []int64{4000},
		NoNewPrivs:         true,
		Capabilities:       &runtimeapi.Capability{DropCapabilities: []string{"ALL"}},
	}
	wantUser := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^Uid:\s+1000\s+1000\s+1000\s+1000$`),
		regexp.MustCompile(`(?m)^Gid:\s+3000\s+3000\s+3000\s+3000$`),
		regexp.MustCompile(`(?m)^Groups:.*\b4000\b`),
		regexp.MustCompile(`(?m)^NoNewPrivs:\s+1$`),
		regexp.MustCompile(`(?m)^CapEff:\s+0+$`),
		regexp.MustCompile(`(?m)^CapBnd:\s+0+$`),
	}
	// Root keeps exactly the capabilities its bounding set allows.
	caps := &runtimeapi.LinuxContainerSecurityContext{
		RunAsUser:    &runtimeapi.Int64Value{Value: 0},
		Capabilities: &runtimeapi.Capability{DropCapabilities: []string{"ALL"}, AddCapabilities: []string{"CHOWN", "NET_ADMIN"}},
	}
	wantCaps := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^Uid:\s+0\s+0\s+0\s+0$`),
		regexp.MustCompile(`(?m)^CapEff:\s+0*1001$`),
		regexp.MustCompile(`(?m)^CapBnd:\s+0*1001$`),
		regexp.MustCompile(`(?m)^NoNewPrivs:\s+0$`),
	}
	check := func(t *testing.T, what, status string, want []*regexp.Regexp) {
		t.Helper()
		for _, re := range want {
			if !re.MatchString(status) {
				t.Errorf("%s: status lacks %s:\n%s", what, re, status)
			}
		}
	}
	for _, tc := range []struct {
		name string
		sc   *runtimeapi.LinuxContainerSecurityContext
		want []*regexp.Regexp
	}{{"as-user", user, wantUser}, {"capabilities", caps, wantCaps}} {
		t.Run(tc.name, func(t *testing.T) {
			id := s.createWith(t, sandboxID, pod, tc.name, s.impl.Programs.Status, tc.sc)
			if err := s.rt.StartContainer(ctx, id); err != nil {
				t.Fatalf("StartContainer: %v", err)
			}
			if st := s.exited(t, id); st.ExitCode != 0 {
				t.Fatalf("exit code %d (%s), want 0; log %q", st.ExitCode, st.Message, readLog(t, pod, tc.name))
			}
			var text strings.Builder
			for _, l := range strings.Split(readLog(t, pod, tc.name), "\n") {
				if _, line, ok := strings.Cut(l, " stdout F "); ok {
					text.WriteString(line + "\n")
				}
			}
			check(t, "container", text.String(), tc.want)
		})
	}
	t.Run("exec as the container's user", func(t *testing.T) {
		id := s.createWith(t, sandboxID, pod, "user-server", s.impl.Programs.Serve, user)
		if err := s.rt.StartContainer(ctx, id); err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		s.waitLog(t, pod, "user-server", "stdout F ready")
		stdout, stderr, err := s.rt.ExecSync(ctx, id, s.impl.Programs.Status, 10*time.Second)
		if err != nil {
			t.Fatalf("ExecSync: %v (stderr %q)", err, stderr)
		}
		check(t, "exec", string(stdout), wantUser)
		if err := s.rt.StopContainer(ctx, id, 1); err != nil {
			t.Errorf("StopContainer: %v", err)
		}
	})
}

// containerConfig is a container as the kubelet configures one.
func (s *suite) containerConfig(pod *runtimeapi.PodSandboxConfig, name string, cmd []string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: s.impl.Image},
		Command:  cmd,
		LogPath:  name + "/0.log",
		Labels: map[string]string{
			"io.kubernetes.pod.uid":        pod.Metadata.Uid,
			"io.kubernetes.container.name": name,
		},
	}
}

// create creates a container after making its log directory, as the
// kubelet does.
func (s *suite) create(t *testing.T, sandboxID string, pod *runtimeapi.PodSandboxConfig, name string, cmd []string) string {
	t.Helper()
	return s.createWith(t, sandboxID, pod, name, cmd, nil)
}

// createWith creates a container with the security context sc.
func (s *suite) createWith(t *testing.T, sandboxID string, pod *runtimeapi.PodSandboxConfig, name string, cmd []string, sc *runtimeapi.LinuxContainerSecurityContext) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(pod.LogDirectory, name), 0o750); err != nil {
		t.Fatal(err)
	}
	config := s.containerConfig(pod, name, cmd)
	if sc != nil {
		config.Linux = &runtimeapi.LinuxContainerConfig{SecurityContext: sc}
	}
	id, err := s.rt.CreateContainer(t.Context(), sandboxID, config, pod)
	if err != nil {
		t.Fatalf("CreateContainer %s: %v", name, err)
	}
	return id
}

func (s *suite) start(t *testing.T, sandboxID string, pod *runtimeapi.PodSandboxConfig, name string, cmd []string) string {
	t.Helper()
	id := s.create(t, sandboxID, pod, name, cmd)
	if err := s.rt.StartContainer(t.Context(), id); err != nil {
		t.Fatalf("StartContainer %s: %v", name, err)
	}
	return id
}

func (s *suite) status(t *testing.T, id string) *runtimeapi.ContainerStatus {
	t.Helper()
	resp, err := s.rt.ContainerStatus(t.Context(), id, false)
	if err != nil {
		t.Fatalf("ContainerStatus: %v", err)
	}
	return resp.GetStatus()
}

// exited waits for the container to exit and returns its status.
func (s *suite) exited(t *testing.T, id string) *runtimeapi.ContainerStatus {
	t.Helper()
	var st *runtimeapi.ContainerStatus
	err := wait.PollUntilContextTimeout(t.Context(), pollInterval, exitTimeout, true, func(ctx context.Context) (bool, error) {
		resp, err := s.rt.ContainerStatus(ctx, id, false)
		if err != nil {
			return false, err
		}
		st = resp.GetStatus()
		return st.GetState() == runtimeapi.ContainerState_CONTAINER_EXITED, nil
	})
	if err != nil {
		t.Fatalf("container %s did not exit: %v (last status %v)", id, err, st)
	}
	return st
}

func logFile(pod *runtimeapi.PodSandboxConfig, name string) string {
	return filepath.Join(pod.LogDirectory, name, "0.log")
}

// readLog reads a container's log and checks that every line is in the
// CRI format.
func readLog(t *testing.T, pod *runtimeapi.PodSandboxConfig, name string) string {
	t.Helper()
	data, err := os.ReadFile(logFile(pod, name))
	if err != nil {
		t.Fatalf("container log: %v", err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if l != "" && !criLogLine.MatchString(l) {
			t.Errorf("log line %q is not in the CRI format", l)
		}
	}
	return string(data)
}

// waitLog waits for the container's log to hold want.
func (s *suite) waitLog(t *testing.T, pod *runtimeapi.PodSandboxConfig, name, want string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), pollInterval, readyTimeout, true, func(context.Context) (bool, error) {
		data, _ := os.ReadFile(logFile(pod, name))
		return strings.Contains(string(data), want), nil
	})
	if err != nil {
		data, _ := os.ReadFile(logFile(pod, name))
		t.Fatalf("log of %s lacks %q: %v (log %q)", name, want, err, data)
	}
}

func (s *suite) testExits(t *testing.T, sandboxID string, pod *runtimeapi.PodSandboxConfig) {
	for _, tc := range []struct {
		name       string
		cmd        []string
		wantCode   int32
		wantReason string
		wantLog    []string
	}{
		{"completes", s.impl.Programs.Echo("hello", "world"), 0, "Completed", []string{" stdout F hello\n", " stdout F world\n"}},
		{"fails", s.impl.Programs.Exit(3), 3, "Error", []string{" stderr F exiting 3\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := s.create(t, sandboxID, pod, tc.name, tc.cmd)
			if st := s.status(t, id); st.GetState() != runtimeapi.ContainerState_CONTAINER_CREATED || st.GetCreatedAt() == 0 || st.GetStartedAt() != 0 {
				t.Errorf("created container: state %v created %d started %d, want CREATED with only a creation time", st.GetState(), st.GetCreatedAt(), st.GetStartedAt())
			}
			if err := s.rt.StartContainer(t.Context(), id); err != nil {
				t.Fatalf("StartContainer: %v", err)
			}
			st := s.exited(t, id)
			if st.ExitCode != tc.wantCode || st.Reason != tc.wantReason {
				t.Errorf("exit code %d reason %q, want %d %q", st.ExitCode, st.Reason, tc.wantCode, tc.wantReason)
			}
			// containerd 1.6 may report a FinishedAt a little before
			// StartedAt for a container that exits at once.
			if st.CreatedAt == 0 || st.StartedAt == 0 || st.FinishedAt == 0 {
				t.Errorf("created at %d, started at %d, finished at %d; want all set", st.CreatedAt, st.StartedAt, st.FinishedAt)
			}
			if st.GetMetadata().GetName() != tc.name || st.GetLabels()["io.kubernetes.container.name"] != tc.name {
				t.Errorf("status metadata %v labels %v, want the container's", st.GetMetadata(), st.GetLabels())
			}
			log := readLog(t, pod, tc.name)
			for _, want := range tc.wantLog {
				if !strings.Contains(log, want) {
					t.Errorf("log %q lacks %q", log, want)
				}
			}
		})
	}
}

func (s *suite) testServe(t *testing.T, sandboxID string, pod *runtimeapi.PodSandboxConfig) {
	ctx := t.Context()
	id := s.start(t, sandboxID, pod, "server", s.impl.Programs.Serve)
	s.waitLog(t, pod, "server", "stdout F ready")
	if st := s.status(t, id); st.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING || st.GetStartedAt() == 0 || st.GetFinishedAt() != 0 {
		t.Errorf("running container: state %v started %d finished %d, want RUNNING, started, not finished", st.GetState(), st.GetStartedAt(), st.GetFinishedAt())
	}

	running := &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}
	exited := &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_EXITED}
	byName := map[string]string{"io.kubernetes.container.name": "server"}
	for _, tc := range []struct {
		name   string
		filter *runtimeapi.ContainerFilter
		want   bool
	}{
		{"name label", &runtimeapi.ContainerFilter{LabelSelector: byName}, true},
		{"other name label", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"io.kubernetes.container.name": "other"}}, false},
		{"id", &runtimeapi.ContainerFilter{Id: id}, true},
		{"sandbox and name", &runtimeapi.ContainerFilter{PodSandboxId: sandboxID, LabelSelector: byName}, true},
		{"other sandbox", &runtimeapi.ContainerFilter{PodSandboxId: "not-a-sandbox", LabelSelector: byName}, false},
		{"running", &runtimeapi.ContainerFilter{State: running, LabelSelector: byName}, true},
		{"exited", &runtimeapi.ContainerFilter{State: exited, LabelSelector: byName}, false},
	} {
		list, err := s.rt.ListContainers(ctx, tc.filter)
		if err != nil {
			t.Fatalf("ListContainers %s: %v", tc.name, err)
		}
		found := len(list) == 1 && list[0].Id == id && list[0].PodSandboxId == sandboxID &&
			list[0].State == runtimeapi.ContainerState_CONTAINER_RUNNING && list[0].Metadata.GetName() == "server"
		if found != tc.want || (!tc.want && len(list) != 0) {
			t.Errorf("ListContainers by %s = %v, want the container: %v", tc.name, list, tc.want)
		}
	}

	stdout, stderr, err := s.rt.ExecSync(ctx, id, s.impl.Programs.Echo("hi"), 10*time.Second)
	if err != nil || string(stdout) != "hi\n" || len(stderr) != 0 {
		t.Errorf("ExecSync echo: stdout %q stderr %q err %v, want \"hi\\n\"", stdout, stderr, err)
	}
	_, stderr, err = s.rt.ExecSync(ctx, id, s.impl.Programs.Exit(7), 10*time.Second)
	var exitErr utilexec.CodeExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 7 || string(stderr) != "exiting 7\n" {
		t.Errorf("ExecSync exit 7: stderr %q err %v, want a CodeExitError with code 7", stderr, err)
	}

	start := time.Now()
	if err := s.rt.StopContainer(ctx, id, 10); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("StopContainer took %s though the container exits on SIGTERM", took)
	}
	st := s.exited(t, id)
	if st.ExitCode != 0 || st.Reason != "Completed" || st.FinishedAt == 0 {
		t.Errorf("stopped container: exit code %d reason %q finished %d, want 0 Completed with a finish time", st.ExitCode, st.Reason, st.FinishedAt)
	}
	s.waitLog(t, pod, "server", "stdout F terminated")
	readLog(t, pod, "server")
	if err := s.rt.StopContainer(ctx, id, 10); err != nil {
		t.Errorf("StopContainer of a stopped container: %v, want none", err)
	}
	if list, err := s.rt.ListContainers(ctx, &runtimeapi.ContainerFilter{State: exited, LabelSelector: byName}); err != nil || len(list) != 1 || list[0].Id != id {
		t.Errorf("ListContainers exited: %v, %v; want the stopped container", list, err)
	}
}

// testUpdateResources changes a running container's limits: it keeps
// running, and its status reports the new ones.
func (s *suite) testUpdateResources(t *testing.T, sandboxID string, pod *runtimeapi.PodSandboxConfig) {
	id := s.start(t, sandboxID, pod, "resized", s.impl.Programs.Serve)
	s.waitLog(t, pod, "resized", "stdout F ready")
	want := &runtimeapi.LinuxContainerResources{CpuPeriod: 100000, CpuQuota: 20000, CpuShares: 204, MemoryLimitInBytes: 256 << 20}
	// Lowered, then raised (cgroup v1 orders the memory+swap limit).
	for _, mem := range []int64{128 << 20, 256 << 20} {
		want.MemoryLimitInBytes = mem
		if err := s.rt.UpdateContainerResources(t.Context(), id, &runtimeapi.ContainerResources{Linux: want}); err != nil {
			t.Fatalf("UpdateContainerResources to memory %d: %v", mem, err)
		}
	}
	st := s.status(t, id)
	if st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("after the update: state %v, want running", st.State)
	}
	got := st.GetResources().GetLinux()
	if got.GetCpuQuota() != want.CpuQuota || got.GetCpuShares() != want.CpuShares || got.GetMemoryLimitInBytes() != want.MemoryLimitInBytes {
		t.Errorf("status resources = %v, want %v", got, want)
	}
	if err := s.rt.StopContainer(t.Context(), id, 0); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
}

func (s *suite) testKill(t *testing.T, sandboxID string, pod *runtimeapi.PodSandboxConfig) {
	id := s.start(t, sandboxID, pod, "stubborn", s.impl.Programs.IgnoreTerm)
	s.waitLog(t, pod, "stubborn", "stdout F ready")
	const timeout = 1
	start := time.Now()
	if err := s.rt.StopContainer(t.Context(), id, timeout); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	took := time.Since(start)
	st := s.exited(t, id)
	if took < timeout*time.Second*9/10 || took > 10*time.Second {
		t.Errorf("StopContainer took %s, want about the %ds timeout before SIGKILL", took, timeout)
	}
	if st.ExitCode != 137 || st.Reason != "Error" {
		t.Errorf("killed container: exit code %d reason %q, want 137 Error", st.ExitCode, st.Reason)
	}
}

func (s *suite) testRemove(t *testing.T, sandboxID string, pod *runtimeapi.PodSandboxConfig) {
	ctx := t.Context()
	list, err := s.rt.ListContainers(ctx, &runtimeapi.ContainerFilter{PodSandboxId: sandboxID})
	if err != nil || len(list) == 0 {
		t.Fatalf("ListContainers of the sandbox: %v, %v; want the earlier tests' containers", list, err)
	}
	for _, c := range list {
		if err := s.rt.RemoveContainer(ctx, c.Id); err != nil {
			t.Errorf("RemoveContainer %s: %v", c.Metadata.GetName(), err)
		}
		if _, err := s.rt.ContainerStatus(ctx, c.Id, false); err == nil {
			t.Errorf("ContainerStatus of removed %s: no error", c.Metadata.GetName())
		}
		if err := s.rt.RemoveContainer(ctx, c.Id); err != nil {
			t.Errorf("RemoveContainer of removed %s: %v, want none", c.Metadata.GetName(), err)
		}
	}
	if list, err := s.rt.ListContainers(ctx, &runtimeapi.ContainerFilter{PodSandboxId: sandboxID}); err != nil || len(list) != 0 {
		t.Errorf("ListContainers after removing all: %v, %v; want none", list, err)
	}
	if err := s.rt.RemoveContainer(ctx, "0123456789abcdef-never-created"); err != nil {
		t.Errorf("RemoveContainer of an unknown ID: %v, want none", err)
	}
	// The logs stay for the kubelet to rotate and remove.
	if _, err := os.Stat(logFile(pod, "completes")); err != nil {
		t.Errorf("log of a removed container: %v", err)
	}
}

func (s *suite) testRemoveSandbox(t *testing.T, sandboxID string, pod *runtimeapi.PodSandboxConfig) {
	ctx := t.Context()
	id := s.start(t, sandboxID, pod, "last", s.impl.Programs.Serve)
	s.waitLog(t, pod, "last", "stdout F ready")
	if err := s.rt.StopPodSandbox(ctx, sandboxID); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	resp, err := s.rt.PodSandboxStatus(ctx, sandboxID, false)
	if err != nil || resp.GetStatus().GetState() != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("stopped sandbox: %v, %v; want NOTREADY", resp.GetStatus(), err)
	}
	if st := s.status(t, id); st.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Errorf("container of a stopped sandbox is %v, want EXITED", st.GetState())
	}
	if err := s.rt.StopPodSandbox(ctx, sandboxID); err != nil {
		t.Errorf("StopPodSandbox of a stopped sandbox: %v, want none", err)
	}
	if err := s.rt.RemovePodSandbox(ctx, sandboxID); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	if _, err := s.rt.PodSandboxStatus(ctx, sandboxID, false); err == nil {
		t.Errorf("PodSandboxStatus of a removed sandbox: no error")
	}
	if l, err := s.rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{Id: sandboxID}); err != nil || len(l) != 0 {
		t.Errorf("ListPodSandbox of a removed sandbox: %v, %v; want none", l, err)
	}
	if l, err := s.rt.ListContainers(ctx, &runtimeapi.ContainerFilter{PodSandboxId: sandboxID}); err != nil || len(l) != 0 {
		t.Errorf("containers of a removed sandbox: %v, %v; want none (removed with it)", l, err)
	}
	if err := s.rt.RemovePodSandbox(ctx, sandboxID); err != nil {
		t.Errorf("RemovePodSandbox of a removed sandbox: %v, want none", err)
	}
	if err := s.rt.RemovePodSandbox(ctx, "0123456789abcdef-never-created"); err != nil {
		t.Errorf("RemovePodSandbox of an unknown ID: %v, want none", err)
	}
}

// ShellPrograms are the suite's programs as shell scripts run by the
// command line sh (such as "/bin/sh"), for a runtime that runs them on the
// host or in an image with a shell.
func ShellPrograms(sh ...string) Programs {
	script := func(s string, args ...string) []string {
		return append(append(append([]string(nil), sh...), "-c", s), args...)
	}
	return Programs{
		Echo: func(words ...string) []string {
			return script(`for w in "$@"; do echo "$w"; done`, append([]string{"echo"}, words...)...)
		},
		Exit: func(code int) []string {
			n := strconv.Itoa(code)
			return script("echo exiting " + n + " >&2; exit " + n)
		},
		Serve:      script(`trap 'echo terminated; exit 0' TERM; echo ready; while :; do sleep 0.05; done`),
		IgnoreTerm: script(`trap '' TERM; echo ready; while :; do sleep 0.05; done`),
		Status:     script(`while IFS= read -r l; do echo "$l"; done < /proc/self/status`),
	}
}
