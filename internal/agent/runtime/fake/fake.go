package fake

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"

	"skiff.dev/skiff/internal/agent/runtime"
)

// RuntimeName is what Version reports.
const RuntimeName = "fake"

// labelPodName is the CRI label the kubelet puts the pod's name in.
const labelPodName = "io.kubernetes.pod.name"

// ErrClosed is returned by calls that would start something after Close.
var ErrClosed = errors.New("fake runtime: closed")

// Runtime is a simulated runtime.Runtime. Containers run until they are
// stopped or made to exit (Exit), or follow their command (Command then
// Args):
//
//	fake-echo WORD...            print each WORD on stdout, exit 0
//	fake-exit CODE [LINE...]     print each LINE on stderr, exit CODE
//	fake-oom                     exit 137, OOMKilled
//	fake-exit-after DUR CODE     exit CODE after DUR
//	fake-serve                   print "ready"; on SIGTERM print "terminated", exit 0
//	fake-ignore-term             print "ready"; ignore SIGTERM (SIGKILL, 137, after the stop timeout)
//	anything else                run; SIGTERM ends it with 143
//
// ExecSync answers from the hook set with SetExec, else runs fake-echo and
// fake-exit as above (anything else succeeds with no output). Images can
// be pulled unless SetPullError says otherwise. Every call is recorded
// (Calls).
type Runtime struct {
	mu         sync.Mutex
	next       int
	cidr       netip.Prefix
	features   runtime.Features
	sandboxes  map[string]*sandbox
	containers map[string]*container
	images     map[string]bool
	pullErr    map[string]error
	exec       func(id string, cmd []string) (string, int)
	usage      map[string][2]uint64 // container ID -> CPU ns, working set
	calls      []string
	closed     bool
}

var (
	_ runtime.Runtime         = (*Runtime)(nil)
	_ runtime.Closer          = (*Runtime)(nil)
	_ runtime.FeatureReporter = (*Runtime)(nil)
)

type sandbox struct {
	id        string
	cfg       *runtimeapi.PodSandboxConfig
	state     runtimeapi.PodSandboxState
	ip        string
	createdAt int64
}

type container struct {
	id, sandboxID                    string
	cfg                              *runtimeapi.ContainerConfig
	logPath                          string // absolute; "" without one
	state                            runtimeapi.ContainerState
	exitCode                         int32
	reason                           string
	createdAt, startedAt, finishedAt int64
	done                             chan struct{}
}

// New returns an empty simulated runtime. Sandboxes get no IP until
// SetPodCIDR.
func New() *Runtime {
	return &Runtime{
		sandboxes:  map[string]*sandbox{},
		containers: map[string]*container{},
		images:     map[string]bool{},
		pullErr:    map[string]error{},
	}
}

// SetPodCIDR gives later sandboxes IPs from cidr.
func (f *Runtime) SetPodCIDR(cidr netip.Prefix) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cidr = cidr
}

// SetFeatures sets what Features declares (the zero value by default, as
// containerd's).
func (f *Runtime) SetFeatures(features runtime.Features) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.features = features
}

// Features implements runtime.FeatureReporter.
func (f *Runtime) Features() runtime.Features {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.features
}

// SetPullError makes PullImage of image fail with err (nil: succeed).
func (f *Runtime) SetPullError(image string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.pullErr, image)
		return
	}
	f.pullErr[image] = err
}

// SetExec makes ExecSync answer with fn's output and exit code.
func (f *Runtime) SetExec(fn func(id string, cmd []string) (string, int)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exec = fn
}

func (f *Runtime) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// Calls is the calls made so far, as "RunPodSandbox NAME",
// "CreateContainer NAME", "StartContainer NAME", "StopContainer NAME
// TIMEOUT", "RemoveContainer NAME", "StopPodSandbox NAME", "ExecSync NAME
// CMD" and "PullImage IMAGE".
func (f *Runtime) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func notFound(kind, id string) error {
	return status.Errorf(codes.NotFound, "%s %q not found", kind, id)
}

// Version implements runtime.Runtime.
func (f *Runtime) Version(context.Context, string) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: RuntimeName, RuntimeVersion: "1.0.0", RuntimeApiVersion: "v1"}, nil
}

// RunPodSandbox implements runtime.Runtime.
func (f *Runtime) RunPodSandbox(_ context.Context, cfg *runtimeapi.PodSandboxConfig, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return "", ErrClosed
	}
	f.next++
	id := fmt.Sprintf("sb%d", f.next)
	ip := ""
	if f.cidr.IsValid() {
		a := f.cidr.Addr()
		for i := 0; i < f.next+1; i++ {
			a = a.Next()
		}
		ip = a.String()
	}
	f.sandboxes[id] = &sandbox{id: id, cfg: cfg, state: runtimeapi.PodSandboxState_SANDBOX_READY, ip: ip, createdAt: time.Now().UnixNano()}
	f.record("RunPodSandbox %s", cfg.GetMetadata().GetName())
	return id, nil
}

// StopPodSandbox implements runtime.Runtime: the sandbox's running
// containers are killed (137).
func (f *Runtime) StopPodSandbox(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	sb := f.sandboxes[id]
	if sb == nil {
		return nil
	}
	if sb.state == runtimeapi.PodSandboxState_SANDBOX_READY {
		f.record("StopPodSandbox %s", sb.cfg.GetMetadata().GetName())
	}
	sb.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	for _, c := range f.containers {
		if c.sandboxID == id && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			f.exitLocked(c, 137, "Error")
		}
	}
	return nil
}

// RemovePodSandbox implements runtime.Runtime: the sandbox's containers
// are killed and removed with it.
func (f *Runtime) RemovePodSandbox(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removeSandboxLocked(id)
	return nil
}

func (f *Runtime) removeSandboxLocked(id string) {
	for cid, c := range f.containers {
		if c.sandboxID == id {
			f.exitLocked(c, 137, "Error")
			delete(f.containers, cid)
		}
	}
	delete(f.sandboxes, id)
}

// PodSandboxStatus implements runtime.Runtime.
func (f *Runtime) PodSandboxStatus(_ context.Context, id string, _ bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sb := f.sandboxes[id]
	if sb == nil {
		return nil, notFound("sandbox", id)
	}
	return &runtimeapi.PodSandboxStatusResponse{Status: &runtimeapi.PodSandboxStatus{
		Id: id, Metadata: sb.cfg.Metadata, State: sb.state, CreatedAt: sb.createdAt,
		Network: &runtimeapi.PodSandboxNetworkStatus{Ip: sb.ip}, Labels: sb.cfg.Labels,
		Annotations: sb.cfg.Annotations,
	}}, nil
}

func matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// ListPodSandbox implements runtime.Runtime.
func (f *Runtime) ListPodSandbox(_ context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*runtimeapi.PodSandbox
	for _, sb := range f.sandboxes {
		if filter.GetId() != "" && filter.GetId() != sb.id {
			continue
		}
		if filter.GetState() != nil && filter.GetState().GetState() != sb.state {
			continue
		}
		if !matches(filter.GetLabelSelector(), sb.cfg.Labels) {
			continue
		}
		out = append(out, &runtimeapi.PodSandbox{Id: sb.id, Metadata: sb.cfg.Metadata, State: sb.state, CreatedAt: sb.createdAt, Labels: sb.cfg.Labels, Annotations: sb.cfg.Annotations})
	}
	return out, nil
}

// CreateContainer implements runtime.Runtime.
func (f *Runtime) CreateContainer(_ context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig, _ *runtimeapi.PodSandboxConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return "", ErrClosed
	}
	sb := f.sandboxes[sandboxID]
	if sb == nil {
		return "", notFound("sandbox", sandboxID)
	}
	f.next++
	id := fmt.Sprintf("c%d", f.next)
	c := &container{id: id, sandboxID: sandboxID, cfg: cfg, state: runtimeapi.ContainerState_CONTAINER_CREATED, createdAt: time.Now().UnixNano(), done: make(chan struct{})}
	if dir := sb.cfg.GetLogDirectory(); dir != "" && cfg.GetLogPath() != "" {
		c.logPath = filepath.Join(dir, cfg.GetLogPath())
	}
	f.containers[id] = c
	f.record("CreateContainer %s", cfg.GetMetadata().GetName())
	return id, nil
}

// command is a container's command line.
func (c *container) command() []string {
	return append(append([]string(nil), c.cfg.GetCommand()...), c.cfg.GetArgs()...)
}

// StartContainer implements runtime.Runtime; the container's command
// decides what it does (see Runtime).
func (f *Runtime) StartContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	c := f.containers[id]
	if c == nil {
		return notFound("container", id)
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_CREATED {
		return fmt.Errorf("container %s is %s, not created", id, c.state)
	}
	if err := c.writeLog("stdout"); err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	c.state = runtimeapi.ContainerState_CONTAINER_RUNNING
	c.startedAt = time.Now().UnixNano()
	f.record("StartContainer %s", c.cfg.GetMetadata().GetName())
	cmd := c.command()
	if len(cmd) == 0 {
		return nil
	}
	switch cmd[0] {
	case "fake-echo":
		_ = c.writeLog("stdout", cmd[1:]...)
		f.exitLocked(c, 0, "")
	case "fake-exit":
		if len(cmd) < 2 {
			break
		}
		code, _ := strconv.Atoi(cmd[1])
		_ = c.writeLog("stderr", cmd[2:]...)
		f.exitLocked(c, int32(code), "")
	case "fake-oom":
		f.exitLocked(c, 137, "OOMKilled")
	case "fake-exit-after":
		if len(cmd) != 3 {
			break
		}
		d, _ := time.ParseDuration(cmd[1])
		code, _ := strconv.Atoi(cmd[2])
		done := c.done
		go func() {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				f.Exit(id, int32(code), "")
			case <-done:
			}
		}()
	case "fake-serve", "fake-ignore-term":
		_ = c.writeLog("stdout", "ready")
	}
	return nil
}

// writeLog appends lines to the container's log in the CRI format
// ("TIMESTAMP STREAM F LINE"); with no lines it creates the file.
func (c *container) writeLog(stream string, lines ...string) error {
	if c.logPath == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.logPath), 0o750); err != nil {
		return err
	}
	fh, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s %s F %s\n", time.Now().UTC().Format(time.RFC3339Nano), stream, l)
	}
	_, err = fh.WriteString(b.String())
	return errors.Join(err, fh.Close())
}

func (f *Runtime) exitLocked(c *container, code int32, reason string) {
	if c.state == runtimeapi.ContainerState_CONTAINER_EXITED {
		return
	}
	if reason == "" {
		reason = "Error"
		if code == 0 {
			reason = "Completed"
		}
	}
	c.state, c.exitCode, c.reason, c.finishedAt = runtimeapi.ContainerState_CONTAINER_EXITED, code, reason, time.Now().UnixNano()
	close(c.done)
}

// Exit makes a running container exit with code; an empty reason is
// "Completed" for 0 and "Error" otherwise.
func (f *Runtime) Exit(id string, code int32, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[id]; c != nil && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
		f.exitLocked(c, code, reason)
	}
}

// Running is the ID of the running container of that name in the pod of
// that name ("" if none).
func (f *Runtime) Running(podName, name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.cfg.Labels[labelPodName] == podName && c.cfg.GetMetadata().GetName() == name && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			return c.id
		}
	}
	return ""
}

// Count is how many containers (any state) and sandboxes the runtime holds.
func (f *Runtime) Count() (containers, sandboxes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.containers), len(f.sandboxes)
}

// StopContainer implements runtime.Runtime (see Runtime for how containers
// answer SIGTERM).
func (f *Runtime) StopContainer(ctx context.Context, id string, timeout int64) error {
	f.mu.Lock()
	c := f.containers[id]
	if c == nil {
		f.mu.Unlock()
		return notFound("container", id)
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		f.mu.Unlock()
		return nil
	}
	f.record("StopContainer %s %d", c.cfg.GetMetadata().GetName(), timeout)
	cmd := c.command()
	switch {
	case len(cmd) > 0 && cmd[0] == "fake-ignore-term" && timeout > 0:
		done := c.done
		f.mu.Unlock()
		t := time.NewTimer(time.Duration(timeout) * time.Second)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			f.Exit(id, 137, "Error")
		case <-ctx.Done():
			f.Exit(id, 137, "Error")
		}
		return nil
	case len(cmd) > 0 && cmd[0] == "fake-ignore-term":
		f.exitLocked(c, 137, "Error")
	case len(cmd) > 0 && cmd[0] == "fake-serve" && timeout > 0:
		_ = c.writeLog("stdout", "terminated")
		f.exitLocked(c, 0, "")
	case timeout > 0:
		f.exitLocked(c, 143, "Error")
	default:
		f.exitLocked(c, 137, "Error")
	}
	f.mu.Unlock()
	return nil
}

// RemoveContainer implements runtime.Runtime; a running container is
// killed first.
func (f *Runtime) RemoveContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	if c == nil {
		return nil
	}
	f.record("RemoveContainer %s", c.cfg.GetMetadata().GetName())
	f.exitLocked(c, 137, "Error")
	delete(f.containers, id)
	return nil
}

// ListContainers implements runtime.Runtime.
func (f *Runtime) ListContainers(_ context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*runtimeapi.Container
	for _, c := range f.containers {
		if filter.GetId() != "" && filter.GetId() != c.id {
			continue
		}
		if filter.GetPodSandboxId() != "" && filter.GetPodSandboxId() != c.sandboxID {
			continue
		}
		if filter.GetState() != nil && filter.GetState().GetState() != c.state {
			continue
		}
		if !matches(filter.GetLabelSelector(), c.cfg.Labels) {
			continue
		}
		out = append(out, &runtimeapi.Container{
			Id: c.id, PodSandboxId: c.sandboxID, Metadata: c.cfg.Metadata, Image: c.cfg.Image, State: c.state,
			CreatedAt: c.createdAt, Labels: c.cfg.Labels, Annotations: c.cfg.Annotations,
		})
	}
	return out, nil
}

// SetUsage sets what ListContainerStats reports for a container: its
// cumulative CPU time and memory working set (zero until set).
func (f *Runtime) SetUsage(id string, cpuNanos, workingSetBytes uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.usage == nil {
		f.usage = map[string][2]uint64{}
	}
	f.usage[id] = [2]uint64{cpuNanos, workingSetBytes}
}

// ListContainerStats reports the running containers' usage as SetUsage
// set it. It is not recorded in Calls (a stats sampler may call it at any
// time).
func (f *Runtime) ListContainerStats(_ context.Context, filter *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*runtimeapi.ContainerStats
	for _, c := range f.containers {
		if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		if filter.GetId() != "" && filter.GetId() != c.id {
			continue
		}
		if filter.GetPodSandboxId() != "" && filter.GetPodSandboxId() != c.sandboxID {
			continue
		}
		if !matches(filter.GetLabelSelector(), c.cfg.Labels) {
			continue
		}
		u := f.usage[c.id]
		out = append(out, &runtimeapi.ContainerStats{
			Attributes: &runtimeapi.ContainerAttributes{Id: c.id, Metadata: c.cfg.Metadata, Labels: c.cfg.Labels, Annotations: c.cfg.Annotations},
			Cpu:        &runtimeapi.CpuUsage{UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: u[0]}},
			Memory:     &runtimeapi.MemoryUsage{WorkingSetBytes: &runtimeapi.UInt64Value{Value: u[1]}},
		})
	}
	return out, nil
}

// ContainerStatus implements runtime.Runtime.
func (f *Runtime) ContainerStatus(_ context.Context, id string, _ bool) (*runtimeapi.ContainerStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	if c == nil {
		return nil, notFound("container", id)
	}
	return &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{
		Id: id, Metadata: c.cfg.Metadata, State: c.state, CreatedAt: c.createdAt, StartedAt: c.startedAt,
		FinishedAt: c.finishedAt, ExitCode: c.exitCode, Reason: c.reason, Image: c.cfg.Image,
		ImageRef: "docker.io/library/" + c.cfg.GetImage().GetImage() + "@sha256:0123", Labels: c.cfg.Labels,
		Annotations: c.cfg.Annotations, LogPath: c.cfg.LogPath, Mounts: c.cfg.Mounts,
		Resources: &runtimeapi.ContainerResources{Linux: c.cfg.GetLinux().GetResources()},
	}}, nil
}

// UpdateContainerResources implements runtime.Runtime: the container's
// resources are what ContainerStatus reports from then on.
func (f *Runtime) UpdateContainerResources(_ context.Context, id string, resources *runtimeapi.ContainerResources) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	if c == nil {
		return notFound("container", id)
	}
	c.cfg.Linux = &runtimeapi.LinuxContainerConfig{Resources: resources.GetLinux(), SecurityContext: c.cfg.GetLinux().GetSecurityContext()}
	return nil
}

// Config is the CRI config of the newest container of that name in the pod
// of that name (nil if none).
func (f *Runtime) Config(podName, name string) *runtimeapi.ContainerConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	var best *container
	for _, c := range f.containers {
		if c.cfg.Labels[labelPodName] == podName && c.cfg.GetMetadata().GetName() == name && (best == nil || c.createdAt > best.createdAt) {
			best = c
		}
	}
	if best == nil {
		return nil
	}
	return best.cfg
}

// SandboxConfig is the config of the newest sandbox of the pod of that
// name (nil if none).
func (f *Runtime) SandboxConfig(podName string) *runtimeapi.PodSandboxConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	var best *sandbox
	for _, sb := range f.sandboxes {
		if sb.cfg.GetMetadata().GetName() == podName && (best == nil || sb.createdAt > best.createdAt) {
			best = sb
		}
	}
	if best == nil {
		return nil
	}
	return best.cfg
}

// LoseSandbox marks a pod's sandbox not ready, as after a reboot.
func (f *Runtime) LoseSandbox(podName string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, sb := range f.sandboxes {
		if sb.cfg.GetMetadata().GetName() == podName && sb.state == runtimeapi.PodSandboxState_SANDBOX_READY {
			sb.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
		}
	}
}

// ExecSync implements runtime.Runtime (see Runtime for what it runs).
func (f *Runtime) ExecSync(_ context.Context, id string, cmd []string, _ time.Duration) ([]byte, []byte, error) {
	f.mu.Lock()
	exec := f.exec
	c := f.containers[id]
	if c == nil {
		f.mu.Unlock()
		return nil, nil, notFound("container", id)
	}
	f.record("ExecSync %s %s", c.cfg.GetMetadata().GetName(), strings.Join(cmd, " "))
	f.mu.Unlock()
	var stdout, stderr string
	code := 0
	switch {
	case exec != nil:
		stdout, code = exec(id, cmd)
	case len(cmd) > 0 && cmd[0] == "fake-echo":
		stdout = lines(cmd[1:])
	case len(cmd) > 1 && cmd[0] == "fake-exit":
		code, _ = strconv.Atoi(cmd[1])
		stderr = lines(cmd[2:])
	}
	if code != 0 {
		return []byte(stdout), []byte(stderr), utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return []byte(stdout), []byte(stderr), nil
}

func lines(l []string) string {
	var b strings.Builder
	for _, s := range l {
		b.WriteString(s + "\n")
	}
	return b.String()
}

// Exec implements runtime.Runtime: the fake has no streaming server.
func (f *Runtime) Exec(context.Context, *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake runtime: no streaming")
}

// Attach implements runtime.Runtime: the fake has no streaming server.
func (f *Runtime) Attach(context.Context, *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake runtime: no streaming")
}

// PortForward implements runtime.Runtime: the fake has no streaming
// server.
func (f *Runtime) PortForward(context.Context, *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake runtime: no streaming")
}

// ImageStatus implements runtime.Runtime: an image is present once pulled.
func (f *Runtime) ImageStatus(_ context.Context, image *runtimeapi.ImageSpec, _ bool) (*runtimeapi.ImageStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.images[image.GetImage()] {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	return &runtimeapi.ImageStatusResponse{Image: &runtimeapi.Image{Id: "sha256:" + image.GetImage(), RepoTags: []string{image.GetImage()}, Spec: image}}, nil
}

// PullImage implements runtime.Runtime: it fails with the error given to
// SetPullError, else the image is present from then on.
func (f *Runtime) PullImage(_ context.Context, image *runtimeapi.ImageSpec, _ *runtimeapi.AuthConfig, _ *runtimeapi.PodSandboxConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("PullImage %s", image.GetImage())
	if err := f.pullErr[image.GetImage()]; err != nil {
		return "", err
	}
	f.images[image.GetImage()] = true
	return "sha256:" + image.GetImage(), nil
}

// Close implements runtime.Closer: every container is killed and every
// sandbox removed; nothing starts afterwards.
func (f *Runtime) Close(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for id := range f.sandboxes {
		f.removeSandboxLocked(id)
	}
	for id, c := range f.containers {
		f.exitLocked(c, 137, "Error")
		delete(f.containers, id)
	}
	return nil
}
