package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	// readyTimeout bounds how long a started containerd may take to answer.
	readyTimeout = 30 * time.Second
	// stopTimeout is how long containerd has to exit after SIGTERM.
	stopTimeout = 10 * time.Second
)

// Available reports whether containerd is installed (on PATH), so the
// agent's automatic runtime choice can pick this runtime.
func Available() bool {
	_, err := exec.LookPath("containerd")
	return err == nil
}

// daemon is a containerd the runtime started.
type daemon struct {
	cmd      *exec.Cmd
	logPath  string
	newDirs  []string      // hostDirs that did not exist before it started
	stopping atomic.Bool   // stop was called: an exit is expected
	done     chan struct{} // closed once containerd exited
	waitErr  error         // containerd's exit, valid after done
}

// startDaemon starts containerd with cfg's config.toml, its output
// appended to containerd.log.
func startDaemon(cfg *Config, log *slog.Logger) (*daemon, error) {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, errors.New("containerd is not installed")
	}
	logFile, err := os.OpenFile(cfg.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("containerd: log: %w", err)
	}
	// A socket left by a containerd that did not exit cleanly would make
	// the new one fail to listen.
	for _, s := range []string{SocketPath(cfg.StateDir), SocketPath(cfg.StateDir) + ".ttrpc"} {
		_ = os.Remove(s)
	}
	cmd := exec.Command(bin, "--config", cfg.configPath())
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Not in the agent's process group: a Ctrl-C in the terminal is the
		// agent's to handle, and it stops the pods before containerd.
		Setpgid: true,
		// containerd does not outlive an agent that dies.
		Pdeathsig: syscall.SIGTERM,
	}
	d := &daemon{cmd: cmd, logPath: cfg.logPath(), newDirs: missingHostDirs(), done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child exits, and
		// Go ends threads that a goroutine locked and left; hold this one
		// until containerd is gone.
		goruntime.LockOSThread()
		defer goruntime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err != nil {
			close(d.done)
			return
		}
		d.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(d.done)
		if !d.stopping.Load() {
			log.Error("containerd exited unexpectedly", "err", d.waitErr, "log", d.logPath)
		}
	}()
	if err := <-started; err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("containerd: start: %w", err)
	}
	log.Info("started containerd", "pid", cmd.Process.Pid, "config", cfg.configPath(), "log", cfg.logPath())
	return d, nil
}

// waitReady waits until containerd's CRI service answers Version on socket.
func (d *daemon) waitReady(ctx context.Context, socket string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	bo := backoff.DefaultConfig
	bo.BaseDelay, bo.MaxDelay = 20*time.Millisecond, 200*time.Millisecond
	conn, err := grpc.NewClient("unix://"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: time.Second}))
	if err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	defer conn.Close()
	client := runtimeapi.NewRuntimeServiceClient(conn)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(socket); err == nil {
			callCtx, cancelCall := context.WithTimeout(ctx, time.Second)
			_, err = client.Version(callCtx, &runtimeapi.VersionRequest{}, grpc.WaitForReady(true))
			cancelCall()
			if err == nil {
				return nil
			}
			if status.Code(err) == codes.Unimplemented {
				return fmt.Errorf("containerd runs without its CRI plugin: %w%s", err, d.logTail())
			}
		}
		select {
		case <-d.done:
			return fmt.Errorf("containerd exited at start: %v%s", d.waitErr, d.logTail())
		case <-ctx.Done():
			return fmt.Errorf("containerd did not answer on %s within %s%s", socket, readyTimeout, d.logTail())
		case <-tick.C:
		}
	}
}

// exited reports whether containerd has exited.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, and SIGKILL if containerd has not exited after
// stopTimeout, and waits for it to exit.
func (d *daemon) stop(log *slog.Logger) {
	d.stopping.Store(true)
	if d.exited() {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		log.Warn("containerd did not exit after SIGTERM, killing it", "pid", d.cmd.Process.Pid)
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	log.Info("containerd stopped", "pid", d.cmd.Process.Pid)
}

// logTail is the end of containerd's log, for errors: "\ncontainerd.log:
// ..." or "" if there is none.
func (d *daemon) logTail() string {
	tail := fileTail(d.logPath, 20)
	if tail == "" {
		return ""
	}
	return "\n" + d.logPath + " (last lines):\n" + tail
}

// fileTail is the last n lines of the file at path (of its last 16 KiB).
func fileTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const maxBytes = 16 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > maxBytes {
		_, _ = f.Seek(-maxBytes, io.SeekEnd)
	}
	data, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
