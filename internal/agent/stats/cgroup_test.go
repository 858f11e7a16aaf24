package stats

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeTree makes files (path relative to dir -> content) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCgroupsRead(t *testing.T) {
	const rel = "/skiff/podabc/ctr1"
	tests := []struct {
		name    string
		files   map[string]string
		v2      bool
		want    Usage
		wantErr bool
	}{
		{
			name: "v1",
			files: map[string]string{
				"cpuacct" + rel + "/cpuacct.usage":        "1500000000\n",
				"memory" + rel + "/memory.usage_in_bytes": "10485760\n",
				"memory" + rel + "/memory.stat":           "cache 4096\ninactive_file 100\ntotal_cache 4096\ntotal_inactive_file 2097152\n",
			},
			want: Usage{CPUNanos: 1500000000, MemoryUsage: 10485760, WorkingSetBytes: 8388608},
		},
		{
			name: "v1 inactive file above usage floors the working set at 0",
			files: map[string]string{
				"cpuacct" + rel + "/cpuacct.usage":        "7\n",
				"memory" + rel + "/memory.usage_in_bytes": "4096\n",
				"memory" + rel + "/memory.stat":           "total_inactive_file 8192\n",
			},
			want: Usage{CPUNanos: 7, MemoryUsage: 4096, WorkingSetBytes: 0},
		},
		{
			name: "v2",
			v2:   true,
			files: map[string]string{
				"cgroup.controllers":      "cpu memory pids\n",
				rel + "/cpu.stat":         "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
				rel + "/memory.current":   "20971520\n",
				rel + "/memory.stat":      "anon 1000\nfile 5000\nactive_file 1000\ninactive_file 4194304\n",
				rel + "/memory.max":       "max\n",
				rel + "/cgroup.procs":     "",
				rel + "/cpu.stat.local":   "throttled_usec 0\n",
				rel + "/memory.swap.max":  "0\n",
				rel + "/memory.events":    "oom_kill 0\n",
				rel + "/cgroup.subtree_c": "",
			},
			want: Usage{CPUNanos: 2500000000, MemoryUsage: 20971520, WorkingSetBytes: 16777216},
		},
		{
			name: "v1 missing memory.stat is an error",
			files: map[string]string{
				"cpuacct" + rel + "/cpuacct.usage":        "1\n",
				"memory" + rel + "/memory.usage_in_bytes": "1\n",
			},
			wantErr: true,
		},
		{
			name: "v2 garbage in memory.current is an error",
			v2:   true,
			files: map[string]string{
				"cgroup.controllers":    "",
				rel + "/cpu.stat":       "usage_usec 1\n",
				rel + "/memory.current": "lots\n",
				rel + "/memory.stat":    "inactive_file 0\n",
			},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			cg := DetectCgroups(root)
			if cg.V2 != tt.v2 {
				t.Fatalf("DetectCgroups: v2 = %v, want %v", cg.V2, tt.v2)
			}
			got, err := cg.Read(rel)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Read: err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("Read = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNodeReader(t *testing.T) {
	procStat := "cpu  100 20 30 5000 40 5 6 7 0 0\ncpu0 50 10 15 2500 20 2 3 3 0 0\nintr 1 2 3\nbtime 1700000000\n"
	meminfo := "MemTotal:        1000 kB\nMemFree:          200 kB\nMemAvailable:     600 kB\nInactive(file):   300 kB\n"
	tests := []struct {
		name  string
		files map[string]string
		want  Usage
	}{
		{
			name: "v1 root cgroup",
			files: map[string]string{
				"cg/cpuacct/cpuacct.usage":        "99000\n",
				"cg/memory/memory.usage_in_bytes": "5000\n",
				"cg/memory/memory.stat":           "total_inactive_file 1000\n",
				"proc/stat":                       procStat,
				"proc/meminfo":                    meminfo,
			},
			want: Usage{CPUNanos: 99000, MemoryUsage: 5000, WorkingSetBytes: 4000},
		},
		{
			name: "v2 reads /proc",
			files: map[string]string{
				"cg/cgroup.controllers": "cpu memory\n",
				"proc/stat":             procStat,
				"proc/meminfo":          meminfo,
			},
			// busy = user+nice+system+irq+softirq+steal = 100+20+30+5+6+7 = 168 ticks of 10ms
			want: Usage{CPUNanos: 168 * 10_000_000, MemoryUsage: 800 * 1024, WorkingSetBytes: 500 * 1024},
		},
		{
			name: "v1 without readable root cgroup falls back to /proc",
			files: map[string]string{
				"cg/memory/memory.usage_in_bytes": "5000\n",
				"proc/stat":                       procStat,
				"proc/meminfo":                    meminfo,
			},
			want: Usage{CPUNanos: 168 * 10_000_000, MemoryUsage: 800 * 1024, WorkingSetBytes: 500 * 1024},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tt.files)
			n := NodeReader{Cgroups: DetectCgroups(filepath.Join(dir, "cg")), ProcRoot: filepath.Join(dir, "proc")}
			got, err := n.Read()
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if got != tt.want {
				t.Errorf("Read = %+v, want %+v", got, tt.want)
			}
			boot, err := n.BootTime()
			if err != nil || !boot.Equal(time.Unix(1700000000, 0)) {
				t.Errorf("BootTime = %v, %v; want 1700000000", boot, err)
			}
		})
	}
}

func TestNodeReaderThisMachine(t *testing.T) {
	n := NodeReader{Cgroups: DetectCgroups("/sys/fs/cgroup")}
	u, err := n.Read()
	if err != nil {
		t.Skipf("no node stats here: %v", err)
	}
	if u.CPUNanos == 0 || u.WorkingSetBytes == 0 {
		t.Errorf("node usage %+v: want CPU time and memory above 0", u)
	}
}
