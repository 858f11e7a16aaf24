package plugins_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"skiff.dev/skiff/internal/scheduler/framework"
	ft "skiff.dev/skiff/internal/scheduler/framework/frameworktest"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

func TestDefaultFilters(t *testing.T) {
	tolerate := func(key string, effect corev1.TaintEffect) ft.PodOpt {
		return func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect})
		}
	}
	tests := []struct {
		name   string
		node   *corev1.Node
		placed []*corev1.Pod
		pod    *corev1.Pod
		want   []string
	}{
		{"fits", ft.MakeNode("n", "2", "4Gi"), nil, ft.MakePod("p", ft.Req("cpu", "1", "memory", "1Gi")), nil},
		{"insufficient cpu and memory", ft.MakeNode("n", "2", "4Gi"), []*corev1.Pod{ft.MakePod("a", ft.Req("cpu", "1500m", "memory", "3Gi"))},
			ft.MakePod("p", ft.Req("cpu", "1", "memory", "2Gi")), []string{"Insufficient cpu", "Insufficient memory"}},
		{"extended resource missing", ft.MakeNode("n", "2", "4Gi"), nil, ft.MakePod("p", ft.Req("nvidia.com/gpu", "1")), []string{"Insufficient nvidia.com/gpu"}},
		{"extended resource present", ft.MakeNode("n", "2", "4Gi", ft.WithAllocatable("nvidia.com/gpu", "1")), nil, ft.MakePod("p", ft.Req("nvidia.com/gpu", "1")), nil},
		{"extended resource used", ft.MakeNode("n", "2", "4Gi", ft.WithAllocatable("nvidia.com/gpu", "1")), []*corev1.Pod{ft.MakePod("a", ft.Req("nvidia.com/gpu", "1"))},
			ft.MakePod("p", ft.Req("nvidia.com/gpu", "1")), []string{"Insufficient nvidia.com/gpu"}},
		{"ephemeral storage", ft.MakeNode("n", "2", "4Gi"), nil, ft.MakePod("p", ft.Req("ephemeral-storage", "200Gi")), []string{"Insufficient ephemeral-storage"}},
		{"too many pods", ft.MakeNode("n", "2", "4Gi", ft.WithAllocatable("pods", "1")), []*corev1.Pod{ft.MakePod("a", nil)}, ft.MakePod("p", nil), []string{"Too many pods"}},
		{"unschedulable node", ft.MakeNode("n", "2", "4Gi", ft.Unschedulable), nil, ft.MakePod("p", nil), []string{plugins.ReasonNodeUnschedulable}},
		{"unschedulable tolerated", ft.MakeNode("n", "2", "4Gi", ft.Unschedulable), nil,
			ft.MakePod("p", nil, tolerate(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)), nil},
		{"NoSchedule taint", ft.MakeNode("n", "2", "4Gi", ft.WithTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil, ft.MakePod("p", nil),
			[]string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{"NoExecute taint", ft.MakeNode("n", "2", "4Gi", ft.WithTaint(corev1.TaintNodeUnreachable, "", corev1.TaintEffectNoExecute)), nil, ft.MakePod("p", nil),
			[]string{"node(s) had untolerated taint {node.kubernetes.io/unreachable: }"}},
		{"taint tolerated", ft.MakeNode("n", "2", "4Gi", ft.WithTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil,
			ft.MakePod("p", nil, tolerate("dedicated", "")), nil},
		{"PreferNoSchedule does not filter", ft.MakeNode("n", "2", "4Gi", ft.WithTaint("x", "y", corev1.TaintEffectPreferNoSchedule)), nil, ft.MakePod("p", nil), nil},
		{"node selector", ft.MakeNode("n", "2", "4Gi"), nil, ft.MakePod("p", nil, func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }),
			[]string{plugins.ReasonNodeAffinity}},
		{"node selector matches", ft.MakeNode("n", "2", "4Gi", ft.WithLabel("disk", "ssd")), nil,
			ft.MakePod("p", nil, func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }), nil},
		{"required affinity", ft.MakeNode("n", "2", "4Gi", ft.WithLabel("zone", "a")), nil, ft.MakePod("p", nil, func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}}},
			}}}
		}), []string{plugins.ReasonNodeAffinity}},
		{"node name", ft.MakeNode("n", "2", "4Gi"), nil, ft.MakePod("p", nil, func(p *corev1.Pod) { p.Spec.NodeName = "other" }), []string{plugins.ReasonNodeName}},
		{"host port conflict", ft.MakeNode("n", "2", "4Gi"), []*corev1.Pod{ft.MakePod("a", nil, ft.HostPort(8080, ""))}, ft.MakePod("p", nil, ft.HostPort(8080, "10.0.0.1")),
			[]string{plugins.ReasonNodePorts}},
		{"host port other IP", ft.MakeNode("n", "2", "4Gi"), []*corev1.Pod{ft.MakePod("a", nil, ft.HostPort(8080, "10.0.0.2"))}, ft.MakePod("p", nil, ft.HostPort(8080, "10.0.0.1")), nil},
		{"host port other port", ft.MakeNode("n", "2", "4Gi"), []*corev1.Pod{ft.MakePod("a", nil, ft.HostPort(8080, ""))}, ft.MakePod("p", nil, ft.HostPort(8081, "")), nil},
		{"first failing filter wins", ft.MakeNode("n", "1", "1Gi", ft.WithTaint("a", "b", corev1.TaintEffectNoSchedule)), nil, ft.MakePod("p", ft.Req("cpu", "2")),
			[]string{"node(s) had untolerated taint {a: b}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ni := ft.NodeInfos([]*corev1.Node{tt.node}, map[string][]*corev1.Pod{tt.node.Name: tt.placed})[0]
			got := framework.NewAlgorithm(plugins.Default(), 0, 1).FilterNode(context.Background(), framework.NewPodInfo(tt.pod), ni).Reasons()
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFitErrorMessage(t *testing.T) {
	nodes := []*corev1.Node{
		ft.MakeNode("a", "1", "1Gi", ft.WithTaint(corev1.TaintNodeUnreachable, "", corev1.TaintEffectNoExecute)),
		ft.MakeNode("b", "1", "1Gi"),
		ft.MakeNode("c", "1", "1Gi"),
	}
	_, err := framework.NewAlgorithm(plugins.Default(), 0, 1).Schedule(context.Background(), framework.NewPodInfo(ft.MakePod("p", ft.Req("cpu", "2"))), ft.NodeInfos(nodes, nil))
	want := "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient cpu."
	var fe *framework.FitError
	if !errors.As(err, &fe) || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	_, err = framework.NewAlgorithm(plugins.Default(), 0, 1).Schedule(context.Background(), framework.NewPodInfo(ft.MakePod("p", nil)), nil)
	if !errors.Is(err, framework.ErrNoNodesAvailable) {
		t.Fatalf("no nodes: err = %v", err)
	}
}

func TestScoring(t *testing.T) {
	tests := []struct {
		name   string
		nodes  []*corev1.Node
		placed map[string][]*corev1.Pod
		pod    *corev1.Pod
		want   string
	}{
		{"least allocated", []*corev1.Node{ft.MakeNode("busy", "4", "8Gi"), ft.MakeNode("idle", "4", "8Gi")},
			map[string][]*corev1.Pod{"busy": {ft.MakePod("a", ft.Req("cpu", "3", "memory", "6Gi"))}}, ft.MakePod("p", ft.Req("cpu", "500m", "memory", "1Gi")), "idle"},
		{"spreads one owner's pods", []*corev1.Node{ft.MakeNode("has", "4", "8Gi"), ft.MakeNode("other", "4", "8Gi")},
			map[string][]*corev1.Pod{
				"has":   {ft.MakePod("a", ft.Req("cpu", "100m"), ft.OwnedBy("rs1"))},
				"other": {ft.MakePod("b", ft.Req("cpu", "1", "memory", "2Gi"), ft.OwnedBy("rs2"))},
			}, ft.MakePod("p", ft.Req("cpu", "100m"), ft.OwnedBy("rs1")), "other"},
		{"avoids PreferNoSchedule", []*corev1.Node{ft.MakeNode("tainted", "4", "8Gi", ft.WithTaint("x", "", corev1.TaintEffectPreferNoSchedule)), ft.MakeNode("clean", "4", "8Gi")},
			map[string][]*corev1.Pod{"clean": {ft.MakePod("a", ft.Req("cpu", "1", "memory", "2Gi"))}}, ft.MakePod("p", nil), "clean"},
		{"preferred affinity", []*corev1.Node{ft.MakeNode("plain", "4", "8Gi"), ft.MakeNode("ssd", "4", "8Gi", ft.WithLabel("disk", "ssd"))},
			map[string][]*corev1.Pod{"ssd": {ft.MakePod("a", ft.Req("cpu", "1", "memory", "2Gi"))}}, ft.MakePod("p", nil, func(p *corev1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
					Weight: 10, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}},
				}}}}
			}), "ssd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				n, err := framework.NewAlgorithm(plugins.Default(), 0, seed).Schedule(context.Background(), framework.NewPodInfo(tt.pod), ft.NodeInfos(tt.nodes, tt.placed))
				if err != nil {
					t.Fatal(err)
				}
				if n.Node().Name != tt.want {
					t.Fatalf("seed %d: picked %s, want %s", seed, n.Node().Name, tt.want)
				}
			}
		})
	}
}

// TestReplicasSpreadEvenly places 30 pods of one owner on 3 equal nodes.
func TestReplicasSpreadEvenly(t *testing.T) {
	nodes := ft.NodeInfos([]*corev1.Node{ft.MakeNode("a", "8", "16Gi"), ft.MakeNode("b", "8", "16Gi"), ft.MakeNode("c", "8", "16Gi")}, nil)
	alg := framework.NewAlgorithm(plugins.Default(), 0, 42)
	for i := range 30 {
		pi := framework.NewPodInfo(ft.MakePod(fmt.Sprint("p", i), ft.Req("cpu", "100m"), ft.OwnedBy("rs")))
		n, err := alg.Schedule(context.Background(), pi, nodes)
		if err != nil {
			t.Fatal(err)
		}
		n.AddPod(pi)
	}
	for _, n := range nodes {
		if n.OwnedPods("rs") != 10 {
			t.Errorf("node %s has %d pods, want 10", n.Node().Name, n.OwnedPods("rs"))
		}
	}
}

func TestTiesBrokenRandomly(t *testing.T) {
	nodes := ft.NodeInfos([]*corev1.Node{ft.MakeNode("a", "4", "8Gi"), ft.MakeNode("b", "4", "8Gi"), ft.MakeNode("c", "4", "8Gi")}, nil)
	seen := map[string]bool{}
	alg := framework.NewAlgorithm(plugins.Default(), 0, 7)
	for range 100 {
		n, err := alg.Schedule(context.Background(), framework.NewPodInfo(ft.MakePod("p", nil)), nodes)
		if err != nil {
			t.Fatal(err)
		}
		seen[n.Node().Name] = true
	}
	if len(seen) != 3 {
		t.Errorf("picked %v; want every one of 3 equal nodes at some point", seen)
	}
}

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
