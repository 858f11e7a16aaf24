package process

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// spawnSpec says which namespaces and cgroups a new process starts in.
type spawnSpec struct {
	cmd *exec.Cmd

	netns    string // network namespace file to join; "" = the host's
	joinPid  int    // exec: the container process whose namespaces to join
	joinMnt  bool   // join joinPid's mount namespace
	joinUTS  bool   // join joinPid's UTS namespace
	hostname string // a new UTS namespace with this hostname ("" = none)
	mounts   []*runtimeapi.Mount
	// newMountNS makes a private mount namespace even without mounts.
	newMountNS bool
	// cgroupTasks are cgroup v1 "tasks" files the starting thread joins, so
	// the child is born in the cgroup.
	cgroupTasks []string
	// restoreTasks are the "tasks" files of the agent's own cgroups, which
	// the starting thread goes back to once the child is forked.
	restoreTasks []string
}

// errThreadCgroup marks a failure to move the starting thread into the
// container's cgroup; the caller then adds the child after it started.
var errThreadCgroup = errors.New("join cgroup")

// spawn starts spec.cmd. The work is done on a fresh goroutine locked to its
// OS thread: the thread joins or creates the namespaces and cgroups, forks
// the child (which inherits them), and is then discarded by the Go runtime
// because the goroutine exits without unlocking it. No other goroutine ever
// runs on a thread whose namespaces were changed.
func spawn(spec spawnSpec) error {
	var err error
	onThrowawayThread(func() { err = spawnLocked(spec) })
	return err
}

// onThrowawayThread runs fn on an OS thread that nothing else uses and that
// ends with fn: fn may change the thread's namespaces. The main thread,
// which the Go runtime cannot end (and whose namespaces /proc/self shows),
// is never used.
func onThrowawayThread(fn func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Hold the main thread so the retry lands on another one.
			onThrowawayThread(fn)
			runtime.UnlockOSThread()
			close(done)
			return
		}
		// Never unlocked: the thread is discarded when this goroutine exits.
		fn()
		close(done)
	}()
	<-done
}

func spawnLocked(spec spawnSpec) error {
	// Open every namespace file before changing the mount namespace.
	var netFD, mntFD, utsFD = -1, -1, -1
	defer func() {
		for _, fd := range []int{netFD, mntFD, utsFD} {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	var err error
	if spec.netns != "" {
		if netFD, err = unix.Open(spec.netns, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("open network namespace %s: %w", spec.netns, err)
		}
	}
	if spec.joinPid > 0 && spec.joinMnt {
		if mntFD, err = unix.Open(fmt.Sprintf("/proc/%d/ns/mnt", spec.joinPid), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("open mount namespace of the container: %w", err)
		}
	}
	if spec.joinPid > 0 && spec.joinUTS {
		if utsFD, err = unix.Open(fmt.Sprintf("/proc/%d/ns/uts", spec.joinPid), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("open UTS namespace of the container: %w", err)
		}
	}

	if mntFD >= 0 {
		// A thread shares its file-system attributes with the process;
		// setns into a mount namespace needs them private.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return fmt.Errorf("unshare file-system attributes: %w", err)
		}
		if err := unix.Setns(mntFD, unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("join the container's mount namespace: %w", err)
		}
	}
	if utsFD >= 0 {
		if err := unix.Setns(utsFD, unix.CLONE_NEWUTS); err != nil {
			return fmt.Errorf("join the container's UTS namespace: %w", err)
		}
	}
	if len(spec.mounts) > 0 || spec.newMountNS {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("create a mount namespace: %w", err)
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make the mount namespace private: %w", err)
		}
		for _, m := range spec.mounts {
			if err := bindMount(m); err != nil {
				return err
			}
		}
	}
	if spec.hostname != "" {
		if err := unix.Unshare(unix.CLONE_NEWUTS); err != nil {
			return fmt.Errorf("create a UTS namespace: %w", err)
		}
		if err := unix.Sethostname([]byte(spec.hostname)); err != nil {
			return fmt.Errorf("set hostname %q: %w", spec.hostname, err)
		}
	}
	if netFD >= 0 {
		if err := unix.Setns(netFD, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("join the pod's network namespace: %w", err)
		}
	}
	var cgErr error
	tid := []byte(strconv.Itoa(unix.Gettid()))
	for _, f := range spec.cgroupTasks {
		if err := os.WriteFile(f, tid, 0o644); err != nil {
			cgErr = fmt.Errorf("%w: %w", errThreadCgroup, err)
			break
		}
	}
	err = spec.cmd.Start()
	// Leave the container's cgroup at once (the thread ends soon anyway).
	if len(spec.cgroupTasks) > 0 {
		for _, f := range spec.restoreTasks {
			_ = os.WriteFile(f, tid, 0o644)
		}
	}
	if err != nil {
		return err
	}
	return cgErr
}

// bindMount bind-mounts m.HostPath at m.ContainerPath in the current mount
// namespace, creating the target when its parent directory exists.
func bindMount(m *runtimeapi.Mount) error {
	src, dst := m.HostPath, m.ContainerPath
	if !filepath.IsAbs(dst) {
		return fmt.Errorf("mount %s: container path %q is not absolute", src, dst)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("mount %s at %s: %w", src, dst, err)
	}
	if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
		parent := filepath.Dir(dst)
		if _, err := os.Stat(parent); err != nil {
			return fmt.Errorf("mount %s at %s: the process runtime uses the host's file system and %s does not exist on this host", src, dst, parent)
		}
		if fi.IsDir() {
			err = os.Mkdir(dst, 0o755)
		} else {
			var f *os.File
			if f, err = os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				err = f.Close()
			}
		}
		if err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("mount %s at %s: create the target: %w", src, dst, err)
		}
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount %s at %s: %w", src, dst, err)
	}
	if m.Readonly {
		if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("mount %s at %s read-only: %w", src, dst, err)
		}
	}
	return nil
}

// lookPath finds name in the PATH of env (or the agent's PATH).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathEnv := os.Getenv("PATH")
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("executable %q not found in PATH %q on this host", name, pathEnv)
}
