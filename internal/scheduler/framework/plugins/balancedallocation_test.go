package plugins_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	ft "skiff.dev/skiff/internal/scheduler/framework/frameworktest"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

func TestBalancedAllocation(t *testing.T) {
	runScoreCases(t, plugins.BalancedAllocation{}, []scoreCase{
		{name: "balanced", nodes: []*corev1.Node{ft.MakeNode("n", "4", "8Gi")},
			pod: ft.MakePod("p", ft.Req("cpu", "2", "memory", "4Gi")), want: []int64{100}},
		{name: "cpu only", nodes: []*corev1.Node{ft.MakeNode("n", "4", "8Gi")},
			pod: ft.MakePod("p", ft.Req("cpu", "4", "memory", "0")), want: []int64{50}},
		{name: "the pod evens out the node", nodes: []*corev1.Node{ft.MakeNode("even", "4", "8Gi"), ft.MakeNode("uneven", "4", "8Gi")},
			placed: map[string][]*corev1.Pod{"even": {ft.MakePod("a", ft.Req("cpu", "2", "memory", "0"))}},
			pod:    ft.MakePod("p", ft.Req("cpu", "0", "memory", "4Gi")), want: []int64{100, 75}},
	})
}
