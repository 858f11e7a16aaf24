package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// defaultPath is the PATH of a container whose config sets none, as
// container runtimes give one.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// container is one process of a pod.
type container struct {
	id        string
	sandboxID string
	config    *runtimeapi.ContainerConfig
	logPath   string
	cgroup    string // relative; "" when cgroups are not used
	identity  identity

	createdAt, startedAt, finishedAt int64
	state                            runtimeapi.ContainerState
	starting                         bool
	exitCode                         int32
	reason, message                  string

	pid      int
	pidStart uint64
	mountNS  bool
	stopping bool          // StopContainer sent a signal
	exited   chan struct{} // closed once the process is reaped (after start)
	stdin    io.WriteCloser
	ptmx     *os.File
	fan      *fanout
}

// CreateContainer records a container. The process runtime cannot run
// images, so a container without a command is refused with a message the
// kubelet shows on the pod.
func (r *Runtime) CreateContainer(ctx context.Context, podSandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	if config == nil {
		return "", errors.New("create container: no config")
	}
	if len(config.Command) == 0 {
		return "", fmt.Errorf("container %q has no command: the process runtime runs commands on the host and cannot run the image %q; set command in the pod spec or use --runtime=cri",
			config.GetMetadata().GetName(), config.GetImage().GetImage())
	}
	id, err := decideIdentity(config.GetLinux().GetSecurityContext(), hostUsers{}, int64(os.Geteuid()))
	if err != nil {
		return "", fmt.Errorf("create container %q: %w", config.GetMetadata().GetName(), err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[podSandboxID]
	if !ok {
		return "", notFound("pod sandbox", podSandboxID)
	}
	if s.state != runtimeapi.PodSandboxState_SANDBOX_READY {
		return "", fmt.Errorf("create container %q: pod sandbox %s is not ready", config.GetMetadata().GetName(), podSandboxID)
	}
	c := &container{
		id:        newID(),
		sandboxID: podSandboxID,
		config:    config,
		createdAt: r.now().UnixNano(),
		state:     runtimeapi.ContainerState_CONTAINER_CREATED,
		fan:       newFanout(),
		identity:  id,
	}
	if config.LogPath != "" {
		c.logPath = config.LogPath
		if !filepath.IsAbs(c.logPath) {
			c.logPath = filepath.Join(s.config.GetLogDirectory(), config.LogPath)
		}
	}
	if s.cgroup != "" {
		c.cgroup = s.cgroup + "/" + c.id
	}
	r.containers[c.id] = c
	r.saveRecordLocked(s)
	return c.id, nil
}

// containerEnv is the environment of a container: its Envs, with PATH and
// HOSTNAME (and HOME) defaulted.
func containerEnv(config *runtimeapi.ContainerConfig, s *sandbox) []string {
	var env []string
	set := map[string]bool{}
	for _, kv := range config.GetEnvs() {
		env = append(env, kv.Key+"="+string(kv.Value))
		set[kv.Key] = true
	}
	if !set["PATH"] {
		env = append(env, "PATH="+defaultPath)
	}
	if !set["HOSTNAME"] {
		if h := s.config.GetHostname(); h != "" {
			env = append(env, "HOSTNAME="+h)
		}
	}
	if !set["HOME"] {
		env = append(env, "HOME=/root")
	}
	return env
}

// StartContainer starts the container's process in the pod's network
// namespace and the container's cgroup, with its output going to the log.
func (r *Runtime) StartContainer(ctx context.Context, containerID string) error {
	r.mu.Lock()
	c, ok := r.containers[containerID]
	if !ok {
		r.mu.Unlock()
		return notFound("container", containerID)
	}
	s := r.sandboxes[c.sandboxID]
	if c.state != runtimeapi.ContainerState_CONTAINER_CREATED || c.starting || s == nil {
		r.mu.Unlock()
		return fmt.Errorf("start container %s: it is not in the created state", containerID)
	}
	c.starting = true
	env := containerEnv(c.config, s)
	r.mu.Unlock()

	err := r.start(c, s, env)
	r.mu.Lock()
	defer r.mu.Unlock()
	c.starting = false
	if err != nil {
		c.state = runtimeapi.ContainerState_CONTAINER_EXITED
		c.exitCode = 128
		c.reason = "StartError"
		c.message = err.Error()
		c.finishedAt = r.now().UnixNano()
		return fmt.Errorf("start container %q: %w", c.config.GetMetadata().GetName(), err)
	}
	r.saveRecordLocked(s)
	return nil
}

// start runs c's process; r.mu is not held.
func (r *Runtime) start(c *container, s *sandbox, env []string) error {
	cfg := c.config
	argv := append(append([]string(nil), cfg.Command...), cfg.Args...)
	dir := cfg.WorkingDir
	if dir == "" {
		dir = "/"
	}
	cmd := &exec.Cmd{Args: argv, Env: env, Dir: dir, SysProcAttr: &syscall.SysProcAttr{Credential: c.identity.cred}}
	var err error

	var log *criLog
	if c.logPath != "" {
		if log, err = openCRILog(c.logPath, r.now); err != nil {
			return err
		}
	} else {
		f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		log = &criLog{now: r.now, f: f}
	}

	// The process's standard streams; childEnds are closed once it started.
	var childEnds []*os.File
	var outputs []struct {
		f      *os.File
		stream string
	}
	var stdin io.WriteCloser
	var ptmx *os.File
	closeAll := func() {
		for _, f := range childEnds {
			f.Close()
		}
		for _, o := range outputs {
			o.f.Close()
		}
		if stdin != nil {
			stdin.Close()
		}
		log.close()
	}
	if cfg.Tty {
		m, tty, err := pty.Open()
		if err != nil {
			log.close()
			return fmt.Errorf("open a terminal: %w", err)
		}
		ptmx = m
		childEnds = append(childEnds, tty)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr.Setsid = true
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
		outputs = append(outputs, struct {
			f      *os.File
			stream string
		}{m, "stdout"})
		if cfg.Stdin {
			stdin = nopCloser{m}
		}
	} else {
		cmd.SysProcAttr.Setpgid = true
		for _, stream := range []string{"stdout", "stderr"} {
			pr, pw, err := os.Pipe()
			if err != nil {
				closeAll()
				return fmt.Errorf("create %s pipe: %w", stream, err)
			}
			childEnds = append(childEnds, pw)
			outputs = append(outputs, struct {
				f      *os.File
				stream string
			}{pr, stream})
			if stream == "stdout" {
				cmd.Stdout = pw
			} else {
				cmd.Stderr = pw
			}
		}
		if cfg.Stdin {
			pr, pw, err := os.Pipe()
			if err != nil {
				closeAll()
				return fmt.Errorf("create stdin pipe: %w", err)
			}
			childEnds = append(childEnds, pr)
			cmd.Stdin = pr
			stdin = pw
		} else {
			devnull, err := os.Open(os.DevNull)
			if err != nil {
				closeAll()
				return err
			}
			childEnds = append(childEnds, devnull)
			cmd.Stdin = devnull
		}
	}

	spec := spawnSpec{cmd: cmd, mounts: cfg.Mounts, layers: r.layers, prepare: prepareCommand(cmd, env), identity: c.identity}
	r.mu.Lock()
	spec.podMnt, err = s.dupMountNSLocked()
	spec.podRoot = s.mnt != nil && s.mnt.ownRoot
	r.mu.Unlock()
	if err != nil {
		closeAll()
		return err
	}
	defer func() {
		if spec.podMnt >= 0 {
			_ = unix.Close(spec.podMnt)
		}
	}()
	if s.net != nil {
		spec.netns = s.net.Netns
		spec.hostname = s.config.GetHostname()
	}
	var oomBefore oomState
	useCgroup := c.cgroup != "" && r.cg.create(c.cgroup)
	if useCgroup {
		if err := r.cg.setResources(c.cgroup, cfg.GetLinux().GetResources()); err != nil {
			closeAll()
			_ = r.cg.remove(c.cgroup)
			return fmt.Errorf("set resource limits: %w", err)
		}
		oomBefore = r.cg.oom(c.cgroup)
		if r.cg.v2 {
			dirs := r.cg.dirs(c.cgroup)
			fd, err := syscall.Open(dirs[0], syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
			if err == nil {
				defer syscall.Close(fd)
				cmd.SysProcAttr.UseCgroupFD = true
				cmd.SysProcAttr.CgroupFD = fd
			}
		} else {
			spec.cgroupTasks = r.cg.taskFiles(c.cgroup)
			spec.restoreTasks = r.cg.selfTasks()
		}
	}

	err = spawn(spec)
	if errors.Is(err, errThreadCgroup) && cmd.Process != nil {
		// The process runs, outside its cgroup: move it in now.
		if aerr := r.cg.addProcess(c.cgroup, cmd.Process.Pid); aerr != nil {
			r.cg.warn(aerr)
		}
		err = nil
	}
	if err != nil {
		closeAll()
		if useCgroup {
			_ = r.cg.remove(c.cgroup)
		}
		return err
	}
	for _, f := range childEnds {
		f.Close()
	}

	pid := cmd.Process.Pid
	r.mu.Lock()
	c.pid = pid
	c.pidStart = procStart(pid)
	c.mountNS = len(cfg.Mounts) > 0
	c.startedAt = r.now().UnixNano()
	c.state = runtimeapi.ContainerState_CONTAINER_RUNNING
	c.exited = make(chan struct{})
	c.stdin = stdin
	c.ptmx = ptmx
	r.mu.Unlock()

	var copying sync.WaitGroup
	for _, o := range outputs {
		copying.Add(1)
		go func() {
			defer copying.Done()
			copyOutput(o.f, o.stream, log, c.fan)
		}()
	}
	go r.reap(c, cmd, useCgroup, oomBefore, outputs, &copying, log)
	return nil
}

// prepareCommand returns what looks up cmd's executable and checks its
// working directory in the namespaces it is about to start in.
func prepareCommand(cmd *exec.Cmd, env []string) func() error {
	return func() error {
		bin, err := lookPath(cmd.Args[0], env)
		if err != nil {
			return err
		}
		cmd.Path = bin
		if fi, err := os.Stat(cmd.Dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("working directory %q does not exist in the container", cmd.Dir)
		}
		return nil
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// reap waits for c's process, kills what it left in its process group and
// cgroup, finishes copying its output, and records how it ended.
func (r *Runtime) reap(c *container, cmd *exec.Cmd, useCgroup bool, oomBefore oomState, outputs []struct {
	f      *os.File
	stream string
}, copying *sync.WaitGroup, log *criLog) {
	_ = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)

	// As when a container's init exits, whatever it started goes too.
	_ = syscall.Kill(-c.pid, syscall.SIGKILL)
	if useCgroup {
		r.cg.kill(c.cgroup, 2*time.Second)
	}
	done := make(chan struct{})
	go func() { copying.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		// A process outside the group still holds the output open.
		for _, o := range outputs {
			o.f.Close()
		}
		<-done
	}
	for _, o := range outputs {
		o.f.Close()
	}
	log.close()

	var code int32
	switch {
	case ws.Exited():
		code = int32(ws.ExitStatus())
	case ws.Signaled():
		code = 128 + int32(ws.Signal())
	default:
		code = int32(cmd.ProcessState.ExitCode())
	}
	r.mu.Lock()
	stopping := c.stopping
	r.mu.Unlock()
	oomKilled := false
	if useCgroup {
		after := r.cg.oom(c.cgroup)
		oomKilled = after.kills > oomBefore.kills ||
			(!stopping && after.failcnt > 0 && ws.Signaled() && ws.Signal() == syscall.SIGKILL)
	}
	reason := "Error"
	switch {
	case oomKilled:
		reason = "OOMKilled"
	case code == 0:
		reason = "Completed"
	}

	r.mu.Lock()
	c.state = runtimeapi.ContainerState_CONTAINER_EXITED
	c.exitCode = code
	c.reason = reason
	c.finishedAt = r.now().UnixNano()
	if c.stdin != nil {
		c.stdin.Close()
	}
	if c.ptmx != nil {
		c.ptmx.Close()
	}
	close(c.exited)
	if s := r.sandboxes[c.sandboxID]; s != nil {
		r.saveRecordLocked(s)
	}
	r.mu.Unlock()
}

// StopContainer sends SIGTERM to the container's process group and SIGKILL
// after timeout seconds (at once for 0); it returns once the process exited.
func (r *Runtime) StopContainer(ctx context.Context, containerID string, timeout int64) error {
	r.mu.Lock()
	c, ok := r.containers[containerID]
	if !ok {
		r.mu.Unlock()
		return notFound("container", containerID)
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		r.mu.Unlock()
		return nil
	}
	c.stopping = true
	pid, exited := c.pid, c.exited
	r.mu.Unlock()

	if timeout > 0 {
		signalGroup(pid, syscall.SIGTERM)
		t := time.NewTimer(time.Duration(timeout) * time.Second)
		defer t.Stop()
		select {
		case <-exited:
			return nil
		case <-t.C:
		case <-ctx.Done():
		}
	}
	signalGroup(pid, syscall.SIGKILL)
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop container %s: %w", containerID, ctx.Err())
	}
}

// signalGroup signals the process group led by pid (and pid itself).
func signalGroup(pid int, sig syscall.Signal) {
	if err := syscall.Kill(-pid, sig); err != nil {
		_ = syscall.Kill(pid, sig)
	}
}

// RemoveContainer kills the container if it runs and deletes its state and
// cgroup; its log file stays.
func (r *Runtime) RemoveContainer(ctx context.Context, containerID string) error {
	r.mu.Lock()
	c, ok := r.containers[containerID]
	r.mu.Unlock()
	if !ok {
		return nil
	}
	if err := r.StopContainer(ctx, containerID, 0); err != nil {
		return err
	}
	if c.cgroup != "" {
		r.cg.kill(c.cgroup, 2*time.Second)
		if err := r.cg.remove(c.cgroup); err != nil {
			return fmt.Errorf("remove container %s: %w", containerID, err)
		}
	}
	r.mu.Lock()
	delete(r.containers, containerID)
	if s := r.sandboxes[c.sandboxID]; s != nil {
		r.saveRecordLocked(s)
	}
	r.mu.Unlock()
	return nil
}

// ListContainers returns the containers that match filter.
func (r *Runtime) ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtimeapi.Container
	for _, c := range r.containers {
		if filter != nil {
			if filter.Id != "" && filter.Id != c.id {
				continue
			}
			if filter.PodSandboxId != "" && filter.PodSandboxId != c.sandboxID {
				continue
			}
			if filter.State != nil && filter.State.State != c.state {
				continue
			}
			if !matchLabels(c.config.GetLabels(), filter.LabelSelector) {
				continue
			}
		}
		out = append(out, &runtimeapi.Container{
			Id:           c.id,
			PodSandboxId: c.sandboxID,
			Metadata:     c.config.GetMetadata(),
			Image:        c.config.GetImage(),
			ImageRef:     c.config.GetImage().GetImage(),
			State:        c.state,
			CreatedAt:    c.createdAt,
			Labels:       c.config.GetLabels(),
			Annotations:  c.config.GetAnnotations(),
		})
	}
	return out, nil
}

// UpdateContainerResources writes new limits into a running container's
// cgroup (in-place pod resize); a container not started yet gets them when
// it starts. ContainerStatus reports them from then on.
func (r *Runtime) UpdateContainerResources(ctx context.Context, containerID string, resources *runtimeapi.ContainerResources) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[containerID]
	if !ok {
		return notFound("container", containerID)
	}
	res := resources.GetLinux()
	if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING && c.cgroup != "" {
		// A container whose cgroup could not be created runs without one.
		if err := r.cg.setResources(c.cgroup, res); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("update resources of container %s: %w", containerID, err)
		}
	}
	c.config.Linux = &runtimeapi.LinuxContainerConfig{Resources: res, SecurityContext: c.config.GetLinux().GetSecurityContext()}
	return nil
}

// ContainerStatus returns the state, times, exit code and reason of a
// container.
func (r *Runtime) ContainerStatus(ctx context.Context, containerID string, verbose bool) (*runtimeapi.ContainerStatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[containerID]
	if !ok {
		return nil, notFound("container", containerID)
	}
	st := &runtimeapi.ContainerStatus{
		Id:          c.id,
		Metadata:    c.config.GetMetadata(),
		State:       c.state,
		CreatedAt:   c.createdAt,
		StartedAt:   c.startedAt,
		FinishedAt:  c.finishedAt,
		ExitCode:    c.exitCode,
		Image:       c.config.GetImage(),
		ImageRef:    c.config.GetImage().GetImage(),
		Reason:      c.reason,
		Message:     c.message,
		Labels:      c.config.GetLabels(),
		Annotations: c.config.GetAnnotations(),
		Mounts:      c.config.GetMounts(),
		LogPath:     c.logPath,
		Resources:   &runtimeapi.ContainerResources{Linux: c.config.GetLinux().GetResources()},
	}
	resp := &runtimeapi.ContainerStatusResponse{Status: st}
	if verbose {
		resp.Info = map[string]string{"pid": fmt.Sprint(c.pid), "cgroup": c.cgroup, "command": strings.Join(append(append([]string(nil), c.config.Command...), c.config.Args...), " ")}
	}
	return resp, nil
}
