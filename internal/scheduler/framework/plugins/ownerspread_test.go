package plugins_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	ft "skiff.dev/skiff/internal/scheduler/framework/frameworktest"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

func TestOwnerSpread(t *testing.T) {
	nodes := []*corev1.Node{ft.MakeNode("a", "4", "8Gi"), ft.MakeNode("b", "4", "8Gi"), ft.MakeNode("c", "4", "8Gi")}
	placed := map[string][]*corev1.Pod{
		"a": {ft.MakePod("a1", nil, ft.OwnedBy("rs1")), ft.MakePod("a2", nil, ft.OwnedBy("rs1")), ft.MakePod("a3", nil, ft.OwnedBy("rs2"))},
		"b": {ft.MakePod("b1", nil, ft.OwnedBy("rs1")), ft.MakePod("b2", nil)},
	}
	runScoreCases(t, plugins.OwnerSpread{}, []scoreCase{
		{name: "fewer of the owner's pods is better", nodes: nodes, placed: placed, pod: ft.MakePod("p", nil, ft.OwnedBy("rs1")), want: []int64{0, 50, 100}},
		{name: "other owners do not count", nodes: nodes, placed: placed, pod: ft.MakePod("p", nil, ft.OwnedBy("rs2")), want: []int64{0, 100, 100}},
		{name: "no owner skips", nodes: nodes, placed: placed, pod: ft.MakePod("p", nil), want: nil},
	})
}
