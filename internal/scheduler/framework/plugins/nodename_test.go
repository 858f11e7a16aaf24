package plugins_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	ft "skiff.dev/skiff/internal/scheduler/framework/frameworktest"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

func TestNodeName(t *testing.T) {
	onNode := func(name string) ft.PodOpt { return func(p *corev1.Pod) { p.Spec.NodeName = name } }
	runFilterCases(t, plugins.NodeName{}, []filterCase{
		{name: "no node named", node: ft.MakeNode("n", "2", "4Gi"), pod: ft.MakePod("p", nil)},
		{name: "this node", node: ft.MakeNode("n", "2", "4Gi"), pod: ft.MakePod("p", nil, onNode("n"))},
		{name: "another node", node: ft.MakeNode("n", "2", "4Gi"), pod: ft.MakePod("p", nil, onNode("other")),
			want: []string{plugins.ReasonNodeName}},
	})
}
