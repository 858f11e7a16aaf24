package stats

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// cgroupRuntime lists containers whose stats it reads from a cgroup tree,
// as the process runtime does.
type cgroupRuntime struct {
	cg         Cgroups
	containers []*runtimeapi.Container
}

func (r *cgroupRuntime) ListContainers(context.Context, *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	return r.containers, nil
}

func (r *cgroupRuntime) ListContainerStats(context.Context, *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	out := make([]*runtimeapi.ContainerStats, 0, len(r.containers))
	for _, c := range r.containers {
		u, err := r.cg.Read("/skiff/pod" + c.Labels[labelPodUID] + "/" + c.Id)
		if err != nil {
			return nil, err
		}
		out = append(out, &runtimeapi.ContainerStats{
			Attributes: &runtimeapi.ContainerAttributes{Id: c.Id, Labels: c.Labels},
			Cpu:        &runtimeapi.CpuUsage{UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: u.CPUNanos}},
			Memory:     &runtimeapi.MemoryUsage{WorkingSetBytes: &runtimeapi.UInt64Value{Value: u.WorkingSetBytes}},
		})
	}
	return out, nil
}

// BenchmarkCollectorSummary100Pods is one sample of a node with 100 pods
// of one container each on cgroup v1 (files in a temporary directory):
// what the background sampler spends every Interval and every scrape
// costs. "%core" is the share of one core that sampling costs on an agent
// sampled every DefaultInterval and scraped every 15 s (the metrics
// pipeline's default resolution); "retained-KiB" is the heap the
// collector's state keeps between samples.
func BenchmarkCollectorSummary100Pods(b *testing.B) {
	root := b.TempDir()
	files := map[string]string{}
	rt := &cgroupRuntime{cg: Cgroups{Root: root}}
	for i := range 100 {
		uid, id := fmt.Sprintf("uid%03d", i), fmt.Sprintf("c%03d", i)
		rel := "/skiff/pod" + uid + "/" + id
		files[filepath.Join("cpuacct", rel, "cpuacct.usage")] = "123456789\n"
		files[filepath.Join("memory", rel, "memory.usage_in_bytes")] = "104857600\n"
		files[filepath.Join("memory", rel, "memory.stat")] = v1MemoryStat
		rt.containers = append(rt.containers, ctr(id, "default", fmt.Sprintf("pod-%03d", i), uid, "app", time.Unix(1000, 0)))
	}
	files["cpuacct/cpuacct.usage"] = "1\n"
	files["memory/memory.usage_in_bytes"] = "1\n"
	files["memory/memory.stat"] = v1MemoryStat
	writeTree(b, root, files)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := NewCollector(Config{NodeName: "n", Node: NodeReader{Cgroups: Cgroups{Root: root}}, Runtime: rt})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Summary(ctx); err != nil {
			b.Fatal(err)
		}
	}
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	perSecond := 1/DefaultInterval.Seconds() + 1/(15*time.Second).Seconds()
	b.ReportMetric(perOp/1e9*perSecond*100, "%core")
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1024, "retained-KiB")
}

// v1MemoryStat is a cgroup v1 memory.stat of the usual length.
const v1MemoryStat = `cache 1048576
rss 98304000
rss_huge 0
shmem 0
mapped_file 0
dirty 0
writeback 0
pgpgin 30000
pgpgout 6000
pgfault 40000
pgmajfault 0
inactive_anon 98304000
active_anon 0
inactive_file 524288
active_file 524288
unevictable 0
hierarchical_memory_limit 9223372036854771712
total_cache 1048576
total_rss 98304000
total_rss_huge 0
total_shmem 0
total_mapped_file 0
total_dirty 0
total_writeback 0
total_pgpgin 30000
total_pgpgout 6000
total_pgfault 40000
total_pgmajfault 0
total_inactive_anon 98304000
total_active_anon 0
total_inactive_file 524288
total_active_file 524288
total_unevictable 0
`
