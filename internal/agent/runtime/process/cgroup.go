package process

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// v1Controllers are the cgroup v1 hierarchies a pod and its containers get
// a directory in (cpuacct for the CPU time stats report; where cpu and
// cpuacct are mounted together both name the same directory).
var v1Controllers = []string{"memory", "cpu", "cpuacct", "pids"}

// cgroups manages the cgroup directories of pods and containers. Paths given
// to its methods are relative to the hierarchy (e.g. "/skiff/pod<uid>/<id>").
type cgroups struct {
	root     string
	v2       bool
	log      *slog.Logger
	warnOnce sync.Once
	disabled bool // set when the root is not a cgroup file system
}

func newCgroups(root string, log *slog.Logger) *cgroups {
	c := &cgroups{root: root, log: log}
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		c.v2 = true
	} else if _, err := os.Stat(filepath.Join(root, "memory")); err != nil {
		c.disabled = true
		log.Info("process runtime: no cgroup file system found, containers run without resource limits", "cgroupRoot", root)
	}
	return c
}

// warn logs, once per runtime, that cgroups could not be used.
func (c *cgroups) warn(err error) {
	c.warnOnce.Do(func() {
		c.log.Warn("process runtime: cannot use cgroups, containers run without resource limits", "err", err)
	})
}

// dirs returns the directories of rel, one per hierarchy.
func (c *cgroups) dirs(rel string) []string {
	if c.disabled || rel == "" {
		return nil
	}
	if c.v2 {
		return []string{filepath.Join(c.root, rel)}
	}
	var out []string
	for _, ctrl := range v1Controllers {
		base := filepath.Join(c.root, ctrl)
		if _, err := os.Stat(base); err != nil {
			continue
		}
		out = append(out, filepath.Join(base, rel))
	}
	return out
}

// controllerDir returns the directory of rel in one v1 controller (or the
// unified directory on v2).
func (c *cgroups) controllerDir(ctrl, rel string) string {
	if c.v2 {
		return filepath.Join(c.root, rel)
	}
	return filepath.Join(c.root, ctrl, rel)
}

// create makes rel in every hierarchy. It reports false (and logs once)
// when that is not permitted.
func (c *cgroups) create(rel string) bool {
	if c.disabled || rel == "" {
		return false
	}
	if c.v2 {
		c.enableV2Controllers(rel)
	}
	for _, d := range c.dirs(rel) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			c.warn(fmt.Errorf("create cgroup %s: %w", d, err))
			return false
		}
	}
	return true
}

// enableV2Controllers turns on memory, cpu and pids for the children of
// every ancestor of rel (best effort).
func (c *cgroups) enableV2Controllers(rel string) {
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	dir := c.root
	for _, p := range parts {
		_ = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory +cpu +pids"), 0o644)
		dir = filepath.Join(dir, p)
		_ = os.MkdirAll(dir, 0o755)
	}
}

// setResources writes the limits of res into rel.
func (c *cgroups) setResources(rel string, res *runtimeapi.LinuxContainerResources) error {
	if res == nil || c.disabled || rel == "" {
		return nil
	}
	type setting struct{ ctrl, file, value string }
	var settings []setting
	if c.v2 {
		if res.MemoryLimitInBytes > 0 {
			settings = append(settings, setting{"memory", "memory.max", strconv.FormatInt(res.MemoryLimitInBytes, 10)},
				setting{"memory", "memory.swap.max", "0"})
		}
		if res.CpuQuota > 0 {
			period := res.CpuPeriod
			if period <= 0 {
				period = 100000
			}
			settings = append(settings, setting{"cpu", "cpu.max", fmt.Sprintf("%d %d", res.CpuQuota, period)})
		}
		if res.CpuShares > 0 {
			weight := 1 + ((res.CpuShares-2)*9999)/262142
			settings = append(settings, setting{"cpu", "cpu.weight", strconv.FormatInt(weight, 10)})
		}
	} else {
		if res.MemoryLimitInBytes > 0 {
			v := strconv.FormatInt(res.MemoryLimitInBytes, 10)
			settings = append(settings, setting{"memory", "memory.limit_in_bytes", v},
				setting{"memory", "memory.memsw.limit_in_bytes", v})
		}
		if res.CpuPeriod > 0 && res.CpuQuota > 0 {
			settings = append(settings, setting{"cpu", "cpu.cfs_period_us", strconv.FormatInt(res.CpuPeriod, 10)})
		}
		if res.CpuQuota > 0 {
			settings = append(settings, setting{"cpu", "cpu.cfs_quota_us", strconv.FormatInt(res.CpuQuota, 10)})
		}
		if res.CpuShares > 0 {
			settings = append(settings, setting{"cpu", "cpu.shares", strconv.FormatInt(res.CpuShares, 10)})
		}
	}
	for i, s := range settings {
		p := filepath.Join(c.controllerDir(s.ctrl, rel), s.file)
		err := os.WriteFile(p, []byte(s.value), 0o644)
		if errors.Is(err, syscall.EINVAL) && s.file == "memory.limit_in_bytes" && i+1 < len(settings) {
			// v1 keeps memory+swap at or above memory: a raised limit
			// (an in-place resize) raises memory+swap first.
			next := settings[i+1]
			if werr := os.WriteFile(filepath.Join(c.controllerDir(next.ctrl, rel), next.file), []byte(next.value), 0o644); werr == nil {
				err = os.WriteFile(p, []byte(s.value), 0o644)
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && (s.file == "memory.memsw.limit_in_bytes" || s.file == "memory.swap.max") {
				continue // no swap accounting on this kernel
			}
			return fmt.Errorf("set %s: %w", p, err)
		}
	}
	return nil
}

// taskFiles returns the files a thread id is written to, to move that
// thread into rel (cgroup v1 only).
func (c *cgroups) taskFiles(rel string) []string {
	if c.v2 {
		return nil
	}
	var out []string
	for _, d := range c.dirs(rel) {
		out = append(out, filepath.Join(d, "tasks"))
	}
	return out
}

// addProcess moves pid (and its threads) into rel.
func (c *cgroups) addProcess(rel string, pid int) error {
	for _, d := range c.dirs(rel) {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("add %d to cgroup %s: %w", pid, d, err)
		}
	}
	return nil
}

// procs lists the processes in rel (not its children cgroups). The agent
// itself is never listed: a thread of it is briefly in a container's cgroup
// while it starts the container's process.
func (c *cgroups) procs(rel string) []int {
	seen := map[int]bool{os.Getpid(): true}
	var out []int
	for _, d := range c.dirs(rel) {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				out = append(out, pid)
			}
		}
	}
	return out
}

// kill sends SIGKILL to every process in rel and waits (up to timeout) for
// the cgroup to be empty.
func (c *cgroups) kill(rel string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		pids := c.procs(rel)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// remove deletes rel in every hierarchy. The directory must hold no
// processes; busy directories are retried briefly.
func (c *cgroups) remove(rel string) error {
	var errs []error
	for _, d := range c.dirs(rel) {
		var err error
		for i := 0; i < 50; i++ {
			err = os.Remove(d)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			if !errors.Is(err, syscall.EBUSY) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// removeIfEmpty deletes rel where it has no children and no processes; it
// is used for pod cgroups another sandbox of the same pod may still use.
// The parent ("/skiff") goes too when no other pod is left in it.
func (c *cgroups) removeIfEmpty(rel string) {
	for _, d := range c.dirs(rel) {
		_ = os.Remove(d)
	}
	if parent := filepath.Dir(rel); parent != "/" && parent != "." {
		for _, d := range c.dirs(parent) {
			_ = os.Remove(d)
		}
	}
}

// oomState is what the memory controller says about OOM kills in rel.
type oomState struct {
	kills   uint64 // oom_kill counter
	failcnt uint64 // v1 memory.failcnt
}

// oom reads the OOM counters of rel.
func (c *cgroups) oom(rel string) oomState {
	var s oomState
	if c.disabled || rel == "" {
		return s
	}
	dir := c.controllerDir("memory", rel)
	file := "memory.oom_control"
	if c.v2 {
		file = "memory.events"
	}
	s.kills = readKeyed(filepath.Join(dir, file), "oom_kill")
	if !c.v2 {
		if b, err := os.ReadFile(filepath.Join(dir, "memory.failcnt")); err == nil {
			s.failcnt, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		}
	}
	return s
}

// readKeyed reads the value of key from a "key value" per line file.
func readKeyed(path, key string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// selfTasks returns the v1 "tasks" files of the agent's own cgroups in the
// controllers containers use.
func (c *cgroups) selfTasks() []string {
	if c.v2 || c.disabled {
		return nil
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			for _, want := range v1Controllers {
				if ctrl == want {
					out = append(out, filepath.Join(c.root, ctrl, parts[2], "tasks"))
				}
			}
		}
	}
	return out
}
