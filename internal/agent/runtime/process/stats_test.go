//go:build integration

package process

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"skiff.dev/skiff/internal/agent/stats"
)

// TestContainerStats: a busy container shows CPU time growing at about
// the rate it burns, and a container holding memory shows a working set
// close to what its cgroup says.
func TestContainerStats(t *testing.T) {
	e := newTestRuntime(t)
	if e.r.cg.disabled {
		t.Skip("no cgroups")
	}
	sid, sc := e.sandbox(t, "stats")
	labels := func(name string) map[string]string {
		return map[string]string{
			"io.kubernetes.pod.name": "stats", "io.kubernetes.pod.namespace": "default",
			"io.kubernetes.pod.uid": sc.Metadata.Uid, "io.kubernetes.container.name": name,
		}
	}
	busy := containerConfig("busy", "while :; do :; done")
	busy.Labels = labels("busy")
	// 32 MiB of 'a' kept in a shell variable.
	hold := containerConfig("hold", "x=$("+busybox+" head -c 33554432 /dev/zero | "+busybox+" tr '\\0' a); echo held; "+busybox+" sleep 1000 & wait")
	hold.Labels = labels("hold")
	busyID := e.run(t, sid, sc, busy)
	holdID := e.run(t, sid, sc, hold)
	if err := poll(t, 20*time.Second, func() (bool, error) {
		st, err := e.r.ContainerStatus(context.Background(), holdID, false)
		return err == nil && readLogMaybe(st.GetStatus().GetLogPath()) != "", nil
	}); err != nil {
		t.Fatal("the hold container did not fill its memory")
	}

	collector := stats.NewCollector(stats.Config{NodeName: "n", Runtime: e.r, MinWindow: 500 * time.Millisecond})
	// The CPU rate needs two samples MinWindow apart.
	var s *statsapi.Summary
	if err := poll(t, 10*time.Second, func() (bool, error) {
		var err error
		s, err = collector.Summary(context.Background())
		return err == nil && len(s.Pods) == 1 && len(s.Pods[0].Containers) == 2 &&
			s.Pods[0].Containers[0].CPU != nil && s.Pods[0].Containers[0].CPU.UsageNanoCores != nil, err
	}); err != nil {
		t.Fatalf("no CPU rate for the pod's two containers: %+v (%v)", s, err)
	}
	p := s.Pods[0]
	busyStats, holdStats := p.Containers[0], p.Containers[1]
	if busyStats.Name != "busy" || holdStats.Name != "hold" {
		t.Fatalf("containers %s, %s", busyStats.Name, holdStats.Name)
	}
	if busyStats.CPU == nil || busyStats.CPU.UsageNanoCores == nil || *busyStats.CPU.UsageNanoCores < 100_000_000 {
		t.Errorf("busy container CPU %+v: want above 100m", busyStats.CPU)
	}
	if *busyStats.CPU.UsageCoreNanoSeconds == 0 {
		t.Error("busy container used no CPU time")
	}

	// The hold container's working set against its cgroup's own files.
	cg := stats.DetectCgroups(e.r.cg.root)
	rel := filepath.Join(sc.Linux.CgroupParent, holdID)
	direct, err := cg.Read(rel)
	if err != nil {
		t.Fatal(err)
	}
	got := *holdStats.Memory.WorkingSetBytes
	if got < 32<<20 || diff(got, direct.WorkingSetBytes) > direct.WorkingSetBytes/10 {
		t.Errorf("hold working set %d, cgroup says %d: want at least 32Mi and within 10%%", got, direct.WorkingSetBytes)
	}
	_ = busyID

	// Stopped containers are not listed.
	if err := e.r.StopContainer(context.Background(), busyID, 0); err != nil {
		t.Fatal(err)
	}
	list, err := e.r.ListContainerStats(context.Background(), &runtimeapi.ContainerStatsFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].GetAttributes().GetId() != holdID {
		t.Errorf("after stopping busy: %d containers listed, want only hold", len(list))
	}
}

func diff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

func readLogMaybe(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
