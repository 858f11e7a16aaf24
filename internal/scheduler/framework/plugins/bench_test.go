package plugins_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"skiff.dev/skiff/internal/scheduler/framework"
	ft "skiff.dev/skiff/internal/scheduler/framework/frameworktest"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

// BenchmarkSchedule1000Nodes places pods of 100 owners, each asking for
// 100m cpu and 128Mi, on 1,000 nodes of 32 cores and 128Gi, accounting for
// each placed pod as the scheduler's cache does. One op is one pod; the
// pods/s metric is the algorithm's throughput alone.
func BenchmarkSchedule1000Nodes(b *testing.B) {
	var nodes []*corev1.Node
	for i := range 1000 {
		nodes = append(nodes, ft.MakeNode(fmt.Sprintf("node-%04d", i), "32", "128Gi"))
	}
	infos := ft.NodeInfos(nodes, nil)
	pods := make([]*framework.PodInfo, 10000)
	for i := range pods {
		pods[i] = framework.NewPodInfo(ft.MakePod(fmt.Sprintf("pod-%05d", i), ft.Req("cpu", "100m", "memory", "128Mi"), ft.OwnedBy(fmt.Sprint("rs-", i%100))))
	}
	alg := framework.NewAlgorithm(plugins.Default(), 0, 1)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%len(pods) == 0 {
			b.StopTimer()
			infos = ft.NodeInfos(nodes, nil)
			b.StartTimer()
		}
		pi := pods[i%len(pods)]
		n, err := alg.Schedule(ctx, pi, infos)
		if err != nil {
			b.Fatal(err)
		}
		n.AddPod(pi)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pods/s")
}
