package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// execTarget is what a command run in a container needs to know about it.
type execTarget struct {
	env    []string
	dir    string
	pid    int
	netns  string
	cgroup string
	ownMnt bool // the container has its own mount namespace
	podMnt int  // the pod's mount namespace (-1: none), closed by the user
	// identity is the container's: commands run as its processes do.
	identity identity
}

// release closes what t holds open.
func (t execTarget) release() {
	if t.podMnt >= 0 {
		_ = unix.Close(t.podMnt)
	}
}

// execTarget returns what a command needs to run in a container; the
// caller releases it.
func (r *Runtime) execTarget(containerID string) (execTarget, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[containerID]
	if !ok {
		return execTarget{}, notFound("container", containerID)
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return execTarget{}, fmt.Errorf("container %s is not running", containerID)
	}
	s := r.sandboxes[c.sandboxID]
	if s == nil {
		return execTarget{}, notFound("pod sandbox", c.sandboxID)
	}
	t := execTarget{env: containerEnv(c.config, s), dir: c.config.WorkingDir, pid: c.pid, cgroup: c.cgroup, ownMnt: c.mountNS, identity: c.identity}
	if t.dir == "" {
		t.dir = "/"
	}
	if s.net != nil {
		t.netns = s.net.Netns
	}
	t.podMnt = -1
	if !t.ownMnt {
		fd, err := s.dupMountNSLocked()
		if err != nil {
			return execTarget{}, err
		}
		t.podMnt = fd
	}
	return t, nil
}

// execIn runs cmd in the container's namespaces, cgroup and environment,
// and returns its exit code (a utilexec.CodeExitError when not zero).
func (r *Runtime) execIn(ctx context.Context, containerID string, cmd []string, in io.Reader, out, errw io.Writer, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	if len(cmd) == 0 {
		return errors.New("exec: no command")
	}
	t, err := r.execTarget(containerID)
	if err != nil {
		return err
	}
	defer t.release()
	c := &exec.Cmd{Args: cmd, Env: t.env, Dir: t.dir, SysProcAttr: &syscall.SysProcAttr{Credential: t.identity.cred}}
	// A container in its own network namespace also has its own UTS one.
	// The command joins the container's own mount namespace, or else the
	// pod's.
	spec := spawnSpec{cmd: c, netns: t.netns, joinPid: t.pid, joinMnt: t.ownMnt, joinUTS: t.netns != "",
		podMnt: t.podMnt, prepare: prepareCommand(c, t.env), identity: t.identity}
	if t.cgroup != "" {
		// On cgroup v1 the command is moved into the container's cgroup
		// right after it started, not through the starting thread: that
		// thread must never be in a cgroup that may run out of memory.
		if r.cg.v2 {
			if fd, err := syscall.Open(r.cg.dirs(t.cgroup)[0], syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0); err == nil {
				defer syscall.Close(fd)
				c.SysProcAttr.UseCgroupFD = true
				c.SysProcAttr.CgroupFD = fd
			}
		}
	}

	var childEnds, readers []*os.File
	var stdinW *os.File
	var copying sync.WaitGroup
	closeChild := func() {
		for _, f := range childEnds {
			f.Close()
		}
	}
	if tty {
		ptmx, tt, err := pty.Open()
		if err != nil {
			return fmt.Errorf("exec: open a terminal: %w", err)
		}
		defer ptmx.Close()
		childEnds = append(childEnds, tt)
		c.Stdin, c.Stdout, c.Stderr = tt, tt, tt
		c.SysProcAttr.Setsid, c.SysProcAttr.Setctty, c.SysProcAttr.Ctty = true, true, 0
		readers = append(readers, ptmx)
		if out != nil {
			copying.Add(1)
			go func() { defer copying.Done(); _, _ = io.Copy(out, ptmx) }()
		}
		if in != nil {
			go func() { _, _ = io.Copy(ptmx, in) }()
		}
		if resize != nil {
			done := make(chan struct{})
			defer close(done)
			go func() {
				for {
					select {
					case sz, ok := <-resize:
						if !ok {
							return
						}
						_ = pty.Setsize(ptmx, &pty.Winsize{Rows: sz.Height, Cols: sz.Width})
					case <-done:
						return
					}
				}
			}()
		}
	} else {
		c.SysProcAttr.Setpgid = true
		for i, w := range []io.Writer{out, errw} {
			if w == nil {
				w = io.Discard
			}
			pr, pw, err := os.Pipe()
			if err != nil {
				closeChild()
				return fmt.Errorf("exec: %w", err)
			}
			childEnds = append(childEnds, pw)
			readers = append(readers, pr)
			defer pr.Close()
			if i == 0 {
				c.Stdout = pw
			} else {
				c.Stderr = pw
			}
			copying.Add(1)
			go func() { defer copying.Done(); _, _ = io.Copy(w, pr) }()
		}
		if in != nil {
			pr, pw, err := os.Pipe()
			if err != nil {
				closeChild()
				return fmt.Errorf("exec: %w", err)
			}
			childEnds = append(childEnds, pr)
			c.Stdin = pr
			stdinW = pw
			defer pw.Close()
			go func() { _, _ = io.Copy(pw, in); pw.Close() }()
		} else {
			devnull, err := os.Open(os.DevNull)
			if err != nil {
				closeChild()
				return fmt.Errorf("exec: %w", err)
			}
			childEnds = append(childEnds, devnull)
			c.Stdin = devnull
		}
	}

	err = spawn(spec)
	if err == nil && t.cgroup != "" && !r.cg.v2 {
		if aerr := r.cg.addProcess(t.cgroup, c.Process.Pid); aerr != nil {
			r.cg.warn(aerr)
		}
	}
	closeChild()
	if err != nil {
		for _, f := range readers {
			f.Close()
		}
		copying.Wait()
		return fmt.Errorf("exec %q: %w", cmd[0], err)
	}
	pid := c.Process.Pid

	waited := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			signalGroup(pid, syscall.SIGKILL)
		case <-waited:
		}
	}()
	_ = c.Wait()
	close(waited)
	_ = stdinW // closed by defer; the copier stops at its next write

	// Output still held open by a background child ends after a while.
	done := make(chan struct{})
	go func() { copying.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		for _, f := range readers {
			f.Close()
		}
		<-done
	}
	if ctx.Err() != nil {
		return fmt.Errorf("exec %q: %w", cmd[0], ctx.Err())
	}
	ws, _ := c.ProcessState.Sys().(syscall.WaitStatus)
	code := c.ProcessState.ExitCode()
	if ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command %q exited with %d", cmd[0], code), Code: code}
	}
	return nil
}

// ExecSync runs cmd in the container and returns its output. A non-zero
// exit is a k8s.io/utils/exec.CodeExitError; a timeout wraps
// context.DeadlineExceeded.
func (r *Runtime) ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) ([]byte, []byte, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var stdout, stderr bytes.Buffer
	err := r.execIn(ctx, containerID, cmd, nil, &stdout, &stderr, false, nil)
	return stdout.Bytes(), stderr.Bytes(), err
}

// Exec returns the URL on the streaming server that runs req.
func (r *Runtime) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	t, err := r.execTarget(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	t.release()
	return r.stream.GetExec(req)
}

// Attach returns the URL on the streaming server that attaches to a
// container.
func (r *Runtime) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	t, err := r.execTarget(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	t.release()
	return r.stream.GetAttach(req)
}

// PortForward returns the URL on the streaming server that forwards ports
// of a pod.
func (r *Runtime) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	r.mu.Lock()
	_, ok := r.sandboxes[req.GetPodSandboxId()]
	r.mu.Unlock()
	if !ok {
		return nil, notFound("pod sandbox", req.GetPodSandboxId())
	}
	return r.stream.GetPortForward(req)
}

// attach connects a client to a running container's stdin and output.
func (r *Runtime) attach(ctx context.Context, containerID string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	r.mu.Lock()
	c, ok := r.containers[containerID]
	if !ok {
		r.mu.Unlock()
		return notFound("container", containerID)
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		r.mu.Unlock()
		return fmt.Errorf("container %s is not running", containerID)
	}
	stdin, ptmx, exited, stdinOnce := c.stdin, c.ptmx, c.exited, c.config.StdinOnce
	r.mu.Unlock()

	var o, e io.Writer
	if out != nil {
		o = out
	}
	if errw != nil {
		e = errw
	}
	sub, unsubscribe := c.fan.subscribe(o, e)
	defer unsubscribe()

	stdinDone := make(chan struct{})
	if in != nil && stdin != nil {
		go func() {
			defer close(stdinDone)
			_, _ = io.Copy(stdin, in)
			if stdinOnce && !tty {
				stdin.Close()
			}
		}()
	}
	if tty && ptmx != nil && resize != nil {
		go func() {
			for {
				select {
				case sz, ok := <-resize:
					if !ok {
						return
					}
					_ = pty.Setsize(ptmx, &pty.Winsize{Rows: sz.Height, Cols: sz.Width})
				case <-exited:
					return
				}
			}
		}()
	}
	select {
	case <-exited:
	case <-ctx.Done():
	case <-sub.failed:
	case <-stdinDone:
		if stdinOnce {
			select {
			case <-exited:
			case <-ctx.Done():
			}
		} else if o == nil && e == nil {
			// Only stdin was attached and the client closed it.
		} else {
			select {
			case <-exited:
			case <-ctx.Done():
			case <-sub.failed:
			}
		}
	}
	return nil
}

// portForward copies stream to and from port on the pod's loopback.
func (r *Runtime) portForward(ctx context.Context, podSandboxID string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	r.mu.Lock()
	s, ok := r.sandboxes[podSandboxID]
	r.mu.Unlock()
	if !ok {
		return notFound("pod sandbox", podSandboxID)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))
	var conn net.Conn
	var err error
	if s.net != nil {
		conn, err = dialInNetns(ctx, s.net.Netns, addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("port forward to port %d of pod sandbox %s: %w", port, podSandboxID, err)
	}
	defer conn.Close()
	go func() {
		_, _ = io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	down := make(chan struct{})
	go func() {
		_, _ = io.Copy(stream, conn)
		close(down)
	}()
	// Done when the pod's side has sent everything and closed.
	select {
	case <-down:
	case <-ctx.Done():
	}
	return nil
}

// streamRuntime adapts the runtime to the streaming server.
type streamRuntime struct{ r *Runtime }

func (a *streamRuntime) Exec(ctx context.Context, containerID string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	var o, e io.Writer
	if out != nil {
		o = out
	}
	if errw != nil {
		e = errw
	}
	return a.r.execIn(ctx, containerID, cmd, in, o, e, tty, resize)
}

func (a *streamRuntime) Attach(ctx context.Context, containerID string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	return a.r.attach(ctx, containerID, in, out, errw, tty, resize)
}

func (a *streamRuntime) PortForward(ctx context.Context, podSandboxID string, port int32, stream io.ReadWriteCloser) error {
	return a.r.portForward(ctx, podSandboxID, port, stream)
}
