package framework

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// BenchmarkSchedule1000Nodes places pods of 100 owners, each asking for
// 100m cpu and 128Mi, on 1,000 nodes of 32 cores and 128Gi, accounting for
// each placed pod as the scheduler's cache does. One op is one pod; the
// pods/s metric is the algorithm's throughput alone.
func BenchmarkSchedule1000Nodes(b *testing.B) {
	var nodes []*corev1.Node
	for i := range 1000 {
		nodes = append(nodes, makeNode(fmt.Sprintf("node-%04d", i), "32", "128Gi"))
	}
	infos := nodeInfos(nodes, nil)
	pods := make([]*PodInfo, 10000)
	for i := range pods {
		pods[i] = NewPodInfo(makePod(fmt.Sprintf("pod-%05d", i), req("cpu", "100m", "memory", "128Mi"), ownedBy(fmt.Sprint("rs-", i%100))))
	}
	alg := NewAlgorithm(0, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%len(pods) == 0 {
			b.StopTimer()
			infos = nodeInfos(nodes, nil)
			b.StartTimer()
		}
		pi := pods[i%len(pods)]
		n, err := alg.Schedule(pi, infos)
		if err != nil {
			b.Fatal(err)
		}
		n.AddPod(pi)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pods/s")
}
