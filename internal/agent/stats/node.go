package stats

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of /proc/stat's CPU times (USER_HZ, 100 on Linux).
const userHZ = 100

// NodeReader reads the node's usage: from the root cgroup on cgroup v1
// (as the kubelet's node metrics, through cAdvisor, do), otherwise from
// /proc/stat and /proc/meminfo.
type NodeReader struct {
	Cgroups Cgroups
	// ProcRoot defaults to /proc.
	ProcRoot string
}

func (n NodeReader) proc() string {
	if n.ProcRoot == "" {
		return "/proc"
	}
	return n.ProcRoot
}

// Read returns the node's usage now.
func (n NodeReader) Read() (Usage, error) {
	if !n.Cgroups.V2 && n.Cgroups.Root != "" {
		if u, err := n.Cgroups.Read("/"); err == nil {
			return u, nil
		}
	}
	stat, err := os.ReadFile(filepath.Join(n.proc(), "stat"))
	if err != nil {
		return Usage{}, fmt.Errorf("node CPU: %w", err)
	}
	cpu, err := parseProcStatCPU(stat)
	if err != nil {
		return Usage{}, fmt.Errorf("node CPU: %w", err)
	}
	mi, err := os.ReadFile(filepath.Join(n.proc(), "meminfo"))
	if err != nil {
		return Usage{}, fmt.Errorf("node memory: %w", err)
	}
	usage, ws, err := parseMeminfo(mi)
	if err != nil {
		return Usage{}, fmt.Errorf("node memory: %w", err)
	}
	return Usage{CPUNanos: cpu, MemoryUsage: usage, WorkingSetBytes: ws}, nil
}

// BootTime is the node's boot time (/proc/stat btime).
func (n NodeReader) BootTime() (time.Time, error) {
	b, err := os.ReadFile(filepath.Join(n.proc(), "stat"))
	if err != nil {
		return time.Time{}, err
	}
	sec, ok := parseKeyed(b, "btime")
	if !ok {
		return time.Time{}, fmt.Errorf("%s/stat: no btime", n.proc())
	}
	return time.Unix(int64(sec), 0), nil
}

// parseProcStatCPU returns the busy time of all CPUs in nanoseconds from
// /proc/stat's "cpu" line: user, nice, system, irq, softirq and steal
// (idle and iowait are not busy; guest time is already in user).
func parseProcStatCPU(b []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		var total uint64
		for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
			v, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("bad cpu line %q", sc.Text())
			}
			total += v
		}
		return total * (uint64(time.Second) / userHZ), nil
	}
	return 0, fmt.Errorf("no cpu line")
}

// parseMeminfo returns the memory in use (MemTotal - MemFree) and the
// working set (that minus Inactive(file)) from /proc/meminfo, in bytes.
func parseMeminfo(b []byte) (usage, workingSet uint64, err error) {
	vals := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, perr := strconv.ParseUint(f[0], 10, 64)
		if perr != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		vals[k] = n
	}
	total, ok1 := vals["MemTotal"]
	free, ok2 := vals["MemFree"]
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("no MemTotal or MemFree")
	}
	usage = total - min(free, total)
	return usage, WorkingSet(usage, vals["Inactive(file)"]), nil
}
