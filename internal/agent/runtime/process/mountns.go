package process

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Everything here runs on a thread of its own (see onThrowawayThread) whose
// mount namespace is a pod's or a container's, never the host's: a mount
// made here is seen by that namespace only.

// layers puts writable layers over directories of a mount namespace, so
// that a missing mount target can be made without changing what lies
// beneath (the host's files).
type layers struct {
	log *slog.Logger
	// noOverlay skips overlayfs (tests of the tmpfs technique).
	noOverlay bool

	overlayOnce, tmpfsOnce, overlayFailOnce, noRootOnce sync.Once
}

// threadFD is the path through which this thread reaches its open file fd
// (a directory reached this way is the one that was opened, even after a
// mount hid it).
func threadFD(fd int) string { return fmt.Sprintf("/proc/thread-self/fd/%d", fd) }

// over puts a writable layer over dir, an absolute path without symbolic
// links: an overlayfs whose lower layer is dir as it was and whose upper
// layer lives in a tmpfs, or, where overlayfs cannot be used, a tmpfs
// holding a bind mount (or a copy of the link) of each entry of dir. The
// names in hide are left out of the layer. Mounts below dir are bound again
// on top, so the layer shows what dir showed.
func (l *layers) over(dir string, hide ...string) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	mi, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	subs := submountsUnder(parseMountinfo(string(mi)), dir)
	oerr := errors.New("not used")
	if !l.noOverlay {
		oerr = l.overlay(dir, fd, &st, subs, hide)
	}
	if oerr == nil {
		l.overlayOnce.Do(func() {
			l.log.Info("process runtime: missing mount targets are made in an overlayfs layer over their parent directory")
		})
		return nil
	}
	l.overlayFailOnce.Do(func() {
		l.log.Warn("process runtime: overlayfs cannot layer a directory here; using a tmpfs with bind mounts of its entries", "dir", dir, "err", oerr)
	})
	if err := l.tmpfs(dir, fd, &st, hide); err != nil {
		return fmt.Errorf("layer over %s: %w (overlayfs: %w)", dir, err, oerr)
	}
	l.tmpfsOnce.Do(func() {
		l.log.Info("process runtime: missing mount targets are made in a tmpfs layer over their parent directory")
	})
	return nil
}

// overlay stacks a tmpfs on dir for the upper and work directories, then
// an overlayfs on top of it with the old dir (fd) as its lower layer.
func (l *layers) overlay(dir string, fd int, st *unix.Stat_t, subs, hide []string) error {
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=700"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	undo := func(err error) error {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return err
	}
	scratch, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return undo(fmt.Errorf("open tmpfs on %s: %w", dir, err))
	}
	defer unix.Close(scratch)
	upper, work := threadFD(scratch)+"/upper", threadFD(scratch)+"/work"
	for _, p := range []string{upper, work} {
		if err := os.Mkdir(p, 0o700); err != nil {
			return undo(err)
		}
	}
	// The layer's root takes its owner and mode from the upper directory.
	if err := os.Chown(upper, int(st.Uid), int(st.Gid)); err != nil {
		return undo(err)
	}
	if err := unix.Chmod(upper, st.Mode&0o7777); err != nil {
		return undo(err)
	}
	opts := "lowerdir=" + threadFD(fd) + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", dir, "overlay", 0, opts); err != nil {
		return undo(fmt.Errorf("mount overlayfs on %s: %w", dir, err))
	}
	for _, rel := range subs {
		if hidden(rel, hide) {
			continue
		}
		if err := unix.Mount(threadFD(fd)+"/"+rel, filepath.Join(dir, rel), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			_ = unix.Unmount(dir, unix.MNT_DETACH)
			return undo(fmt.Errorf("bind %s again over the layer: %w", filepath.Join(dir, rel), err))
		}
	}
	for _, name := range hide {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			_ = unix.Unmount(dir, unix.MNT_DETACH)
			return undo(fmt.Errorf("remove %s from the layer: %w", filepath.Join(dir, name), err))
		}
	}
	return nil
}

// hidden reports whether rel is one of hide or below one.
func hidden(rel string, hide []string) bool {
	for _, h := range hide {
		if rel == h || strings.HasPrefix(rel, h+"/") {
			return true
		}
	}
	return false
}

// tmpfs stacks on dir a tmpfs with an entry for each entry of the old dir
// (fd): a bind mount of it, or a copy of a symbolic link.
func (l *layers) tmpfs(dir string, fd int, st *unix.Stat_t, hide []string) error {
	old := threadFD(fd)
	entries, err := os.ReadDir(old)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	opts := fmt.Sprintf("mode=%o,uid=%d,gid=%d", st.Mode&0o7777, st.Uid, st.Gid)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	for _, e := range entries {
		if hidden(e.Name(), hide) {
			continue
		}
		if err := copyEntry(old+"/"+e.Name(), filepath.Join(dir, e.Name())); err != nil {
			_ = unix.Unmount(dir, unix.MNT_DETACH)
			return err
		}
	}
	return nil
}

// copyEntry makes dst show src: a copy of a symbolic link, otherwise an
// empty directory or file with src bound on it (with what is mounted below).
func copyEntry(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	case fi.IsDir():
		if err := os.Mkdir(dst, 0o755); err != nil {
			return err
		}
	default:
		if err := createFile(dst); err != nil {
			return err
		}
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", dst, err)
	}
	return nil
}

func createFile(p string) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// ensureTarget makes target exist (a directory when dir is set, else an
// empty file) without changing the host's files: in a layer over its
// nearest existing parent directory, or directly in the pod's own root
// (rootWritable) when that parent is /.
func (l *layers) ensureTarget(target string, dir, rootWritable bool) error {
	plan, err := planTarget(target, os.Stat, os.Lstat)
	if err != nil || plan == nil {
		return err
	}
	parent, err := filepath.EvalSymlinks(plan.parent)
	if err != nil {
		return err
	}
	var hide []string
	if plan.replace != "" {
		hide = []string{plan.replace}
	}
	if parent == "/" {
		if !rootWritable {
			return fmt.Errorf("%s does not exist on this host and the pod has no root directory of its own", filepath.Join(plan.parent, plan.replace))
		}
		// The pod's root is its own tmpfs.
		if plan.replace != "" {
			if err := os.Remove("/" + plan.replace); err != nil {
				return err
			}
		}
	} else if err := l.over(parent, hide...); err != nil {
		return err
	}
	rest, err := filepath.Rel(plan.parent, filepath.Clean(target))
	if err != nil {
		return err
	}
	full := filepath.Join(parent, rest)
	if dir {
		return os.MkdirAll(full, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	return createFile(full)
}

// podNamespace is a pod's mount namespace, made by newPodNamespace.
type podNamespace struct {
	// file holds the namespace (/proc/<pid>/task/<tid>/ns/mnt of the
	// thread that made it); it lives as long as the file is open or a
	// process is in it.
	file *os.File
	// ownRoot: the namespace's / is a tmpfs of the pod's own (with the
	// host's entries bound in), so new entries of / do not reach the host.
	ownRoot bool
}

// newPodNamespace makes a pod's mount namespace: a copy of the host's
// mounts that receives the host's later mounts but sends none back, whose /
// is a tmpfs (mounted on rootDir, a directory under the state directory)
// with each entry of the host's / bound in, and whose /etc shows files
// instead of the host's ones (in a layer; names relative to /etc).
func (l *layers) newPodNamespace(rootDir string, files map[string][]byte) (*podNamespace, error) {
	var ns podNamespace
	var err error
	onThrowawayThread(func() { err = l.buildPodNamespace(&ns, rootDir, files) })
	if err != nil {
		return nil, err
	}
	return &ns, nil
}

func (l *layers) buildPodNamespace(ns *podNamespace, rootDir string, files map[string][]byte) error {
	// CLONE_NEWNS also unshares the thread's file-system attributes.
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("create a mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make the mount namespace a slave of the host's: %w", err)
	}
	if err := pivotToOwnRoot(rootDir); err != nil {
		l.noRootOnce.Do(func() {
			l.log.Warn("process runtime: pods cannot have a root directory of their own here; mount targets directly in / cannot be made", "err", err)
		})
	} else {
		ns.ownRoot = true
	}
	// Bind mounts of other pods' namespaces would keep them alive.
	if mi, err := os.ReadFile("/proc/thread-self/mountinfo"); err == nil {
		for _, mp := range parseMountinfo(string(mi)) {
			if mp.fsType == "nsfs" {
				_ = unix.Unmount(mp.path, unix.MNT_DETACH)
			}
		}
	}
	if len(files) > 0 {
		var names []string
		for name := range files {
			names = append(names, name)
		}
		if err := l.over("/etc", names...); err != nil {
			return err
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join("/etc", name), content, 0o644); err != nil {
				return fmt.Errorf("write the pod's /etc/%s: %w", name, err)
			}
		}
	}
	f, err := os.Open("/proc/thread-self/ns/mnt")
	if err != nil {
		return fmt.Errorf("open the pod's mount namespace: %w", err)
	}
	ns.file = f
	return nil
}

// pivotToOwnRoot mounts a tmpfs on rootDir, fills it with one entry per
// entry of / (bind mounts, copies of links) and makes it the namespace's
// root. On failure the namespace keeps its root.
func pivotToOwnRoot(rootDir string) (err error) {
	if err := unix.Mount("tmpfs", rootDir, "tmpfs", 0, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", rootDir, err)
	}
	defer func() {
		if err != nil {
			_ = unix.Unmount(rootDir, unix.MNT_DETACH)
		}
	}()
	// Recursive binds of / entries (one of which holds rootDir) skip it.
	if err := unix.Mount("", rootDir, "", unix.MS_UNBINDABLE, ""); err != nil {
		return fmt.Errorf("make %s unbindable: %w", rootDir, err)
	}
	entries, err := os.ReadDir("/")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := copyEntry("/"+e.Name(), filepath.Join(rootDir, e.Name())); err != nil {
			return err
		}
	}
	if err := unix.Chdir(rootDir); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		_ = unix.Chdir("/")
		return fmt.Errorf("pivot_root to %s: %w", rootDir, err)
	}
	// The old root is now stacked on the new one: detach it.
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	_ = unix.Mount("", "/", "", unix.MS_PRIVATE, "")
	return nil
}

// enterNamespace joins the mount namespace of the open file fd (the
// thread's file-system attributes must be its own).
func enterNamespace(fd int) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare file-system attributes: %w", err)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("join mount namespace: %w", err)
	}
	return nil
}
