package process

import (
	"errors"
	"fmt"
	"log/slog"
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

	netns string // network namespace file to join; "" = the host's
	// podMnt is a descriptor of the pod's mount namespace to join (-1: the
	// host's), owned by the caller; a container's own one (joinMnt) is
	// joined instead when set.
	podMnt int
	// podRoot: the pod's / is its own tmpfs, where new entries may be made.
	podRoot  bool
	joinPid  int    // exec: the container process whose namespaces to join
	joinMnt  bool   // join joinPid's mount namespace
	joinUTS  bool   // join joinPid's UTS namespace
	hostname string // a new UTS namespace with this hostname ("" = none)
	// mounts are made in a new mount namespace, a child of the pod's.
	mounts []*runtimeapi.Mount
	layers *layers
	// prepare runs in the process's namespaces right before it starts
	// (to look up its executable and working directory as it sees them).
	prepare func() error
	// cgroupTasks are cgroup v1 "tasks" files the starting thread joins, so
	// the child is born in the cgroup.
	cgroupTasks []string
	// restoreTasks are the "tasks" files of the agent's own cgroups, which
	// the starting thread goes back to once the child is forked.
	restoreTasks []string
	// identity's capabilities and no_new_privs are set on the starting
	// thread right before the fork (its user in cmd's Credential).
	identity identity
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
	// Open every namespace, cgroup and mount source in the host's view,
	// before changing the mount namespace.
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	open := func(path string, flags int) (int, error) {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
		if err == nil {
			fds = append(fds, fd)
		}
		return fd, err
	}
	var netFD, mntFD, utsFD = -1, -1, -1
	var err error
	if spec.netns != "" {
		if netFD, err = open(spec.netns, unix.O_RDONLY); err != nil {
			return fmt.Errorf("open network namespace %s: %w", spec.netns, err)
		}
	}
	switch {
	case spec.joinPid > 0 && spec.joinMnt:
		if mntFD, err = open(fmt.Sprintf("/proc/%d/ns/mnt", spec.joinPid), unix.O_RDONLY); err != nil {
			return fmt.Errorf("open mount namespace of the container: %w", err)
		}
	case spec.podMnt >= 0:
		mntFD = spec.podMnt
	}
	if spec.joinPid > 0 && spec.joinUTS {
		if utsFD, err = open(fmt.Sprintf("/proc/%d/ns/uts", spec.joinPid), unix.O_RDONLY); err != nil {
			return fmt.Errorf("open UTS namespace of the container: %w", err)
		}
	}
	sources, err := openMountSources(spec.mounts, &fds)
	if err != nil {
		return err
	}
	var taskFDs, restoreFDs []int
	for _, f := range spec.cgroupTasks {
		fd, err := open(f, unix.O_WRONLY)
		if err != nil {
			taskFDs = nil
			break
		}
		taskFDs = append(taskFDs, fd)
	}
	for _, f := range spec.restoreTasks {
		if fd, err := open(f, unix.O_WRONLY); err == nil {
			restoreFDs = append(restoreFDs, fd)
		}
	}

	if mntFD >= 0 {
		if err := enterNamespace(mntFD); err != nil {
			return err
		}
	}
	if utsFD >= 0 {
		if err := unix.Setns(utsFD, unix.CLONE_NEWUTS); err != nil {
			return fmt.Errorf("join the container's UTS namespace: %w", err)
		}
	}
	if len(spec.mounts) > 0 {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("create a mount namespace: %w", err)
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
			return fmt.Errorf("make the mount namespace a slave: %w", err)
		}
		l := spec.layers
		if l == nil {
			l = &layers{log: slog.Default()}
		}
		for i, m := range spec.mounts {
			if err := l.bindMount(m, sources[i], spec.podRoot); err != nil {
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
	if spec.prepare != nil {
		if err := spec.prepare(); err != nil {
			return err
		}
	}
	var cgErr error
	tid := []byte(strconv.Itoa(unix.Gettid()))
	if len(spec.cgroupTasks) > 0 && len(taskFDs) == 0 {
		cgErr = fmt.Errorf("%w: cannot open the cgroup's tasks files", errThreadCgroup)
	}
	for _, fd := range taskFDs {
		if _, err := unix.Write(fd, tid); err != nil {
			cgErr = fmt.Errorf("%w: %w", errThreadCgroup, err)
			break
		}
	}
	if err := spec.identity.apply(); err != nil {
		return err
	}
	err = spec.cmd.Start()
	// Leave the container's cgroup at once (the thread ends soon anyway).
	if len(taskFDs) > 0 {
		for _, fd := range restoreFDs {
			_, _ = unix.Write(fd, tid)
		}
	}
	if err != nil {
		return err
	}
	return cgErr
}

// mountSource is a mount's source, opened in the host's view.
type mountSource struct {
	// tree is a detached copy of the source's mounts (open_tree), or -1
	// where the kernel has none: the source path is bound instead.
	tree int
	dir  bool
}

// openMountSources opens each mount's source before the thread leaves the
// host's mount namespace, so a mount made on the host after the pod's
// namespace (a memory-backed emptyDir) is what the container sees. The
// files opened are added to fds.
func openMountSources(mounts []*runtimeapi.Mount, fds *[]int) ([]mountSource, error) {
	out := make([]mountSource, len(mounts))
	for i, m := range mounts {
		fi, err := os.Stat(m.HostPath)
		if err != nil {
			return nil, fmt.Errorf("mount %s at %s: %w", m.HostPath, m.ContainerPath, err)
		}
		out[i] = mountSource{tree: -1, dir: fi.IsDir()}
		fd, err := unix.OpenTree(unix.AT_FDCWD, m.HostPath, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err == nil {
			out[i].tree = fd
			*fds = append(*fds, fd)
		}
	}
	return out, nil
}

// bindMount mounts m's source (src) at m.ContainerPath in the current
// mount namespace, first making the target where it does not exist (see
// ensureTarget).
func (l *layers) bindMount(m *runtimeapi.Mount, src mountSource, podRoot bool) error {
	dst := m.ContainerPath
	if !filepath.IsAbs(dst) {
		return fmt.Errorf("mount %s: container path %q is not absolute", m.HostPath, dst)
	}
	if err := l.ensureTarget(dst, src.dir, podRoot); err != nil {
		return fmt.Errorf("mount %s at %s: %w", m.HostPath, dst, err)
	}
	if src.tree >= 0 {
		if err := unix.MoveMount(src.tree, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("mount %s at %s: %w", m.HostPath, dst, err)
		}
	} else if err := unix.Mount(m.HostPath, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount %s at %s: %w", m.HostPath, dst, err)
	}
	if m.Readonly {
		if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("mount %s at %s read-only: %w", m.HostPath, dst, err)
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
