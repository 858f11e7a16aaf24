package kubelet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"
)

// fakeRuntime is an in-memory runtime.Runtime. Containers run until the
// test makes them exit, or exit at once when their command says so:
// ["fake-exit", "CODE"] exits with CODE, ["fake-oom"] is OOMKilled,
// ["fake-exit-after", "DURATION", "CODE"] exits later. StopContainer ends
// a container with 143 at once, unless its command has "fake-ignore-term"
// (then 137 after the timeout).
type fakeRuntime struct {
	mu         sync.Mutex
	next       int
	cidr       netip.Prefix
	sandboxes  map[string]*fakeSandbox
	containers map[string]*fakeContainer
	images     map[string]bool
	pullErr    map[string]error
	// exec answers ExecSync: output and exit code.
	exec  func(id string, cmd []string) (string, int)
	calls []string
}

type fakeSandbox struct {
	id        string
	cfg       *runtimeapi.PodSandboxConfig
	state     runtimeapi.PodSandboxState
	ip        string
	createdAt int64
}

type fakeContainer struct {
	id, sandboxID                    string
	cfg                              *runtimeapi.ContainerConfig
	state                            runtimeapi.ContainerState
	exitCode                         int32
	reason                           string
	createdAt, startedAt, finishedAt int64
	done                             chan struct{}
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{
		sandboxes:  map[string]*fakeSandbox{},
		containers: map[string]*fakeContainer{},
		images:     map[string]bool{},
		pullErr:    map[string]error{},
	}
}

func (f *fakeRuntime) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// callLog is the calls made so far.
func (f *fakeRuntime) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeRuntime) Version(context.Context, string) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "fake", RuntimeVersion: "1.0.0", RuntimeApiVersion: "v1"}, nil
}

func (f *fakeRuntime) RunPodSandbox(_ context.Context, cfg *runtimeapi.PodSandboxConfig, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
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
	f.sandboxes[id] = &fakeSandbox{id: id, cfg: cfg, state: runtimeapi.PodSandboxState_SANDBOX_READY, ip: ip, createdAt: time.Now().UnixNano()}
	f.record("RunPodSandbox %s", cfg.Metadata.Name)
	return id, nil
}

func (f *fakeRuntime) StopPodSandbox(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	sb := f.sandboxes[id]
	if sb == nil {
		return nil
	}
	if sb.state == runtimeapi.PodSandboxState_SANDBOX_READY {
		f.record("StopPodSandbox %s", sb.cfg.Metadata.Name)
	}
	sb.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	for _, c := range f.containers {
		if c.sandboxID == id && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			f.exitLocked(c, 137, "Error")
		}
	}
	return nil
}

func (f *fakeRuntime) RemovePodSandbox(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sandboxes, id)
	return nil
}

func (f *fakeRuntime) PodSandboxStatus(_ context.Context, id string, _ bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sb := f.sandboxes[id]
	if sb == nil {
		return nil, fmt.Errorf("sandbox %s not found", id)
	}
	return &runtimeapi.PodSandboxStatusResponse{Status: &runtimeapi.PodSandboxStatus{
		Id: id, Metadata: sb.cfg.Metadata, State: sb.state, CreatedAt: sb.createdAt,
		Network: &runtimeapi.PodSandboxNetworkStatus{Ip: sb.ip}, Labels: sb.cfg.Labels,
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

func (f *fakeRuntime) ListPodSandbox(_ context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*runtimeapi.PodSandbox
	for _, sb := range f.sandboxes {
		if filter != nil && !matches(filter.LabelSelector, sb.cfg.Labels) {
			continue
		}
		out = append(out, &runtimeapi.PodSandbox{Id: sb.id, Metadata: sb.cfg.Metadata, State: sb.state, CreatedAt: sb.createdAt, Labels: sb.cfg.Labels})
	}
	return out, nil
}

func (f *fakeRuntime) CreateContainer(_ context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig, _ *runtimeapi.PodSandboxConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sandboxes[sandboxID] == nil {
		return "", fmt.Errorf("sandbox %s not found", sandboxID)
	}
	f.next++
	id := fmt.Sprintf("c%d", f.next)
	f.containers[id] = &fakeContainer{id: id, sandboxID: sandboxID, cfg: cfg, state: runtimeapi.ContainerState_CONTAINER_CREATED, createdAt: time.Now().UnixNano(), done: make(chan struct{})}
	f.record("CreateContainer %s", cfg.Metadata.Name)
	return id, nil
}

func (f *fakeRuntime) StartContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	if c == nil {
		return fmt.Errorf("container %s not found", id)
	}
	c.state = runtimeapi.ContainerState_CONTAINER_RUNNING
	c.startedAt = time.Now().UnixNano()
	f.record("StartContainer %s", c.cfg.Metadata.Name)
	cmd := c.cfg.Command
	switch {
	case len(cmd) == 2 && cmd[0] == "fake-exit":
		code, _ := strconv.Atoi(cmd[1])
		f.exitLocked(c, int32(code), "")
	case len(cmd) == 1 && cmd[0] == "fake-oom":
		f.exitLocked(c, 137, "OOMKilled")
	case len(cmd) == 3 && cmd[0] == "fake-exit-after":
		d, _ := time.ParseDuration(cmd[1])
		code, _ := strconv.Atoi(cmd[2])
		go func() {
			select {
			case <-time.After(d):
				f.exit(id, int32(code), "")
			case <-c.done:
			}
		}()
	}
	return nil
}

func (f *fakeRuntime) exitLocked(c *fakeContainer, code int32, reason string) {
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

// exit makes a running container exit.
func (f *fakeRuntime) exit(id string, code int32, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[id]; c != nil {
		f.exitLocked(c, code, reason)
	}
}

// running is the ID of the running container of that name ("" if none).
func (f *fakeRuntime) running(podName, name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.cfg.Labels[labelPodName] == podName && c.cfg.Metadata.Name == name && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			return c.id
		}
	}
	return ""
}

// count is how many containers (any state) and sandboxes the fake holds.
func (f *fakeRuntime) count() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.containers), len(f.sandboxes)
}

func (f *fakeRuntime) StopContainer(_ context.Context, id string, timeout int64) error {
	f.mu.Lock()
	c := f.containers[id]
	if c == nil {
		f.mu.Unlock()
		return fmt.Errorf("container %s not found", id)
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		f.mu.Unlock()
		return nil
	}
	f.record("StopContainer %s %d", c.cfg.Metadata.Name, timeout)
	ignore := strings.Contains(strings.Join(c.cfg.Command, " "), "fake-ignore-term")
	if !ignore {
		f.exitLocked(c, 143, "Error")
		f.mu.Unlock()
		return nil
	}
	f.mu.Unlock()
	select {
	case <-c.done:
	case <-time.After(time.Duration(timeout) * time.Second):
		f.exit(id, 137, "Error")
	}
	return nil
}

func (f *fakeRuntime) RemoveContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[id]; c != nil {
		f.record("RemoveContainer %s", c.cfg.Metadata.Name)
	}
	delete(f.containers, id)
	return nil
}

func (f *fakeRuntime) ListContainers(_ context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*runtimeapi.Container
	for _, c := range f.containers {
		if filter != nil && !matches(filter.LabelSelector, c.cfg.Labels) {
			continue
		}
		out = append(out, &runtimeapi.Container{
			Id: c.id, PodSandboxId: c.sandboxID, Metadata: c.cfg.Metadata, Image: c.cfg.Image, State: c.state,
			CreatedAt: c.createdAt, Labels: c.cfg.Labels, Annotations: c.cfg.Annotations,
		})
	}
	return out, nil
}

func (f *fakeRuntime) ContainerStatus(_ context.Context, id string, _ bool) (*runtimeapi.ContainerStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	if c == nil {
		return nil, fmt.Errorf("container %s not found", id)
	}
	return &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{
		Id: id, Metadata: c.cfg.Metadata, State: c.state, CreatedAt: c.createdAt, StartedAt: c.startedAt,
		FinishedAt: c.finishedAt, ExitCode: c.exitCode, Reason: c.reason, Image: c.cfg.Image,
		ImageRef: "docker.io/library/" + c.cfg.Image.Image + "@sha256:0123", Labels: c.cfg.Labels,
		Annotations: c.cfg.Annotations, LogPath: c.cfg.LogPath,
	}}, nil
}

// config is the CRI config of the newest container of that name.
func (f *fakeRuntime) config(podName, name string) *runtimeapi.ContainerConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	var best *fakeContainer
	for _, c := range f.containers {
		if c.cfg.Labels[labelPodName] == podName && c.cfg.Metadata.Name == name && (best == nil || c.createdAt > best.createdAt) {
			best = c
		}
	}
	if best == nil {
		return nil
	}
	return best.cfg
}

// sandboxConfig is the config of the newest sandbox of a pod.
func (f *fakeRuntime) sandboxConfig(podName string) *runtimeapi.PodSandboxConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	var best *fakeSandbox
	for _, sb := range f.sandboxes {
		if sb.cfg.Metadata.Name == podName && (best == nil || sb.createdAt > best.createdAt) {
			best = sb
		}
	}
	if best == nil {
		return nil
	}
	return best.cfg
}

func (f *fakeRuntime) ExecSync(_ context.Context, id string, cmd []string, _ time.Duration) ([]byte, []byte, error) {
	f.mu.Lock()
	exec := f.exec
	if c := f.containers[id]; c != nil {
		f.record("ExecSync %s %s", c.cfg.Metadata.Name, strings.Join(cmd, " "))
	}
	f.mu.Unlock()
	if exec == nil {
		return nil, nil, nil
	}
	out, code := exec(id, cmd)
	if code != 0 {
		return []byte(out), nil, utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return []byte(out), nil, nil
}

func (f *fakeRuntime) setExec(fn func(id string, cmd []string) (string, int)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exec = fn
}

func (f *fakeRuntime) Exec(context.Context, *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return nil, errors.New("not supported")
}

func (f *fakeRuntime) Attach(context.Context, *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return nil, errors.New("not supported")
}

func (f *fakeRuntime) PortForward(context.Context, *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return nil, errors.New("not supported")
}

func (f *fakeRuntime) ImageStatus(_ context.Context, image *runtimeapi.ImageSpec, _ bool) (*runtimeapi.ImageStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.images[image.Image] {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	return &runtimeapi.ImageStatusResponse{Image: &runtimeapi.Image{Id: "sha256:" + image.Image, RepoTags: []string{image.Image}}}, nil
}

func (f *fakeRuntime) PullImage(_ context.Context, image *runtimeapi.ImageSpec, _ *runtimeapi.AuthConfig, _ *runtimeapi.PodSandboxConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("PullImage %s", image.Image)
	if err := f.pullErr[image.Image]; err != nil {
		return "", err
	}
	f.images[image.Image] = true
	return "sha256:" + image.Image, nil
}

// loseSandbox marks a pod's sandbox not ready, as after a reboot.
func (f *fakeRuntime) loseSandbox(podName string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, sb := range f.sandboxes {
		if sb.cfg.Metadata.Name == podName && sb.state == runtimeapi.PodSandboxState_SANDBOX_READY {
			sb.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
		}
	}
}
