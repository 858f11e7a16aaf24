package plugins_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	ft "skiff.dev/skiff/internal/scheduler/framework/frameworktest"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

func TestNodeResourcesFitFilter(t *testing.T) {
	gpuNode := func() *corev1.Node { return ft.MakeNode("n", "2", "4Gi", ft.WithAllocatable("nvidia.com/gpu", "1")) }
	runFilterCases(t, plugins.NodeResourcesFit{}, []filterCase{
		{name: "fits", node: ft.MakeNode("n", "2", "4Gi"), pod: ft.MakePod("p", ft.Req("cpu", "1", "memory", "1Gi"))},
		{name: "fits exactly", node: ft.MakeNode("n", "2", "4Gi"), placed: []*corev1.Pod{ft.MakePod("a", ft.Req("cpu", "1", "memory", "3Gi"))},
			pod: ft.MakePod("p", ft.Req("cpu", "1", "memory", "1Gi"))},
		{name: "insufficient cpu and memory", node: ft.MakeNode("n", "2", "4Gi"), placed: []*corev1.Pod{ft.MakePod("a", ft.Req("cpu", "1500m", "memory", "3Gi"))},
			pod: ft.MakePod("p", ft.Req("cpu", "1", "memory", "2Gi")), want: []string{"Insufficient cpu", "Insufficient memory"}},
		{name: "no requests fit a full node", node: ft.MakeNode("n", "1", "1Gi"), placed: []*corev1.Pod{ft.MakePod("a", ft.Req("cpu", "1", "memory", "1Gi"))},
			pod: ft.MakePod("p", nil)},
		{name: "gpu missing", node: ft.MakeNode("n", "2", "4Gi"), pod: ft.MakePod("p", ft.Req("nvidia.com/gpu", "1")), want: []string{"Insufficient nvidia.com/gpu"}},
		{name: "gpu present", node: gpuNode(), pod: ft.MakePod("p", ft.Req("nvidia.com/gpu", "1"))},
		{name: "gpu used", node: gpuNode(), placed: []*corev1.Pod{ft.MakePod("a", ft.Req("nvidia.com/gpu", "1"))},
			pod: ft.MakePod("p", ft.Req("nvidia.com/gpu", "1")), want: []string{"Insufficient nvidia.com/gpu"}},
		{name: "other extended resource", node: gpuNode(), pod: ft.MakePod("p", ft.Req("example.com/fpga", "1", "nvidia.com/gpu", "2")),
			want: []string{"Insufficient example.com/fpga", "Insufficient nvidia.com/gpu"}},
		{name: "hugepages", node: ft.MakeNode("n", "2", "4Gi", ft.WithAllocatable("hugepages-2Mi", "4Mi")), pod: ft.MakePod("p", ft.Req("hugepages-2Mi", "8Mi")),
			want: []string{"Insufficient hugepages-2Mi"}},
		{name: "ephemeral storage", node: ft.MakeNode("n", "2", "4Gi"), pod: ft.MakePod("p", ft.Req("ephemeral-storage", "200Gi")),
			want: []string{"Insufficient ephemeral-storage"}},
		{name: "too many pods", node: ft.MakeNode("n", "2", "4Gi", ft.WithAllocatable("pods", "1")), placed: []*corev1.Pod{ft.MakePod("a", nil)},
			pod: ft.MakePod("p", ft.Req("cpu", "3")), want: []string{"Insufficient cpu", "Too many pods"}},
	})
}

func TestNodeResourcesFitScore(t *testing.T) {
	runScoreCases(t, plugins.NodeResourcesFit{}, []scoreCase{
		{name: "free share of cpu and memory, averaged", nodes: []*corev1.Node{ft.MakeNode("idle", "4", "8Gi"), ft.MakeNode("busy", "4", "8Gi")},
			placed: map[string][]*corev1.Pod{"busy": {ft.MakePod("a", ft.Req("cpu", "3", "memory", "2Gi"))}},
			pod:    ft.MakePod("p", ft.Req("cpu", "1", "memory", "2Gi")), want: []int64{(75 + 75) / 2, (0 + 50) / 2}},
		{name: "missing requests count the defaults", nodes: []*corev1.Node{ft.MakeNode("n", "1", "1000Mi")},
			pod: ft.MakePod("p", nil), want: []int64{(90 + 80) / 2}},
		{name: "over-committed scores 0", nodes: []*corev1.Node{ft.MakeNode("n", "1", "1Gi")},
			pod: ft.MakePod("p", ft.Req("cpu", "2", "memory", "2Gi")), want: []int64{0}},
	})
}
