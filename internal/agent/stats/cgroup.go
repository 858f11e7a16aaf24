package stats

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Usage is what a cgroup (or the node) has used so far. CPUNanos is
// cumulative core-nanoseconds; the memory figures are current values.
type Usage struct {
	CPUNanos        uint64
	MemoryUsage     uint64
	WorkingSetBytes uint64
}

// WorkingSet is Kubernetes' memory working set: usage minus inactive file
// pages, never below 0.
func WorkingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile >= usage {
		return 0
	}
	return usage - inactiveFile
}

// parseUint reads a file holding one unsigned number ("max" is not one).
func parseUint(b []byte) (uint64, error) {
	s := strings.TrimSpace(string(b))
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	return n, nil
}

// parseKeyed returns the value of key in a "key value" per line file
// (memory.stat, cpu.stat).
func parseKeyed(b []byte, key string) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := parseUint(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

func readKeyed(path, key string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, ok := parseKeyed(b, key)
	if !ok {
		return 0, fmt.Errorf("%s: no %s", path, key)
	}
	return n, nil
}

// ReadV1 reads a cgroup v1 cgroup: CPU from cpuacct.usage in cpuacctDir,
// memory from memory.usage_in_bytes and memory.stat's total_inactive_file
// in memoryDir. An empty dir skips that controller.
func ReadV1(cpuacctDir, memoryDir string) (Usage, error) {
	var u Usage
	var errs []error
	if cpuacctDir != "" {
		n, err := readUint(filepath.Join(cpuacctDir, "cpuacct.usage"))
		errs = append(errs, err)
		u.CPUNanos = n
	}
	if memoryDir != "" {
		usage, err := readUint(filepath.Join(memoryDir, "memory.usage_in_bytes"))
		errs = append(errs, err)
		inactive, err := readKeyed(filepath.Join(memoryDir, "memory.stat"), "total_inactive_file")
		errs = append(errs, err)
		u.MemoryUsage, u.WorkingSetBytes = usage, WorkingSet(usage, inactive)
	}
	return u, errors.Join(errs...)
}

// ReadV2 reads a cgroup v2 cgroup: CPU from cpu.stat's usage_usec (present
// without the cpu controller), memory from memory.current and
// memory.stat's inactive_file.
func ReadV2(dir string) (Usage, error) {
	var u Usage
	usec, err := readKeyed(filepath.Join(dir, "cpu.stat"), "usage_usec")
	errs := []error{err}
	u.CPUNanos = usec * 1000
	usage, err := readUint(filepath.Join(dir, "memory.current"))
	errs = append(errs, err)
	inactive, err := readKeyed(filepath.Join(dir, "memory.stat"), "inactive_file")
	errs = append(errs, err)
	u.MemoryUsage, u.WorkingSetBytes = usage, WorkingSet(usage, inactive)
	return u, errors.Join(errs...)
}

// Cgroups reads cgroups by their path relative to each hierarchy
// ("/skiff/pod<uid>/<id>") under Root (usually /sys/fs/cgroup), v1 or v2
// as found there.
type Cgroups struct {
	Root string
	V2   bool
}

// DetectCgroups looks at root: v2 when it holds cgroup.controllers.
func DetectCgroups(root string) Cgroups {
	_, err := os.Stat(filepath.Join(root, "cgroup.controllers"))
	return Cgroups{Root: root, V2: err == nil}
}

// Read returns the usage of the cgroup at rel.
func (c Cgroups) Read(rel string) (Usage, error) {
	if c.V2 {
		return ReadV2(filepath.Join(c.Root, rel))
	}
	return ReadV1(filepath.Join(c.Root, "cpuacct", rel), filepath.Join(c.Root, "memory", rel))
}
