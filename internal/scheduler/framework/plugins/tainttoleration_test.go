package plugins_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	ft "skiff.dev/skiff/internal/scheduler/framework/frameworktest"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

func TestTaintTolerationFilter(t *testing.T) {
	numeric := func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "gen", Operator: corev1.TolerationOpGt, Value: "3", Effect: corev1.TaintEffectNoSchedule})
	}
	runFilterCases(t, plugins.TaintToleration{}, []filterCase{
		{name: "no taints", node: ft.MakeNode("n", "2", "4Gi"), pod: ft.MakePod("p", nil)},
		{name: "NoSchedule", node: ft.MakeNode("n", "2", "4Gi", ft.WithTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
			pod: ft.MakePod("p", nil), want: []string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{name: "NoExecute", node: ft.MakeNode("n", "2", "4Gi", ft.WithTaint(corev1.TaintNodeUnreachable, "", corev1.TaintEffectNoExecute)),
			pod: ft.MakePod("p", nil), want: []string{"node(s) had untolerated taint {node.kubernetes.io/unreachable: }"}},
		{name: "tolerated", node: ft.MakeNode("n", "2", "4Gi", ft.WithTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
			pod: ft.MakePod("p", nil, ft.Tolerate("dedicated", ""))},
		{name: "tolerated for another effect", node: ft.MakeNode("n", "2", "4Gi", ft.WithTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
			pod: ft.MakePod("p", nil, ft.Tolerate("dedicated", corev1.TaintEffectNoExecute)), want: []string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{name: "PreferNoSchedule does not filter", node: ft.MakeNode("n", "2", "4Gi", ft.WithTaint("x", "y", corev1.TaintEffectPreferNoSchedule)),
			pod: ft.MakePod("p", nil)},
		{name: "first untolerated taint named", node: ft.MakeNode("n", "2", "4Gi",
			ft.WithTaint("a", "1", corev1.TaintEffectNoSchedule), ft.WithTaint("b", "2", corev1.TaintEffectNoSchedule), ft.WithTaint("c", "3", corev1.TaintEffectNoSchedule)),
			pod: ft.MakePod("p", nil, ft.Tolerate("a", "")), want: []string{"node(s) had untolerated taint {b: 2}"}},
		{name: "numeric toleration holds", node: ft.MakeNode("n", "2", "4Gi", ft.WithTaint("gen", "5", corev1.TaintEffectNoSchedule)),
			pod: ft.MakePod("p", nil, numeric)},
		{name: "numeric toleration fails", node: ft.MakeNode("n", "2", "4Gi", ft.WithTaint("gen", "2", corev1.TaintEffectNoSchedule)),
			pod: ft.MakePod("p", nil, numeric), want: []string{"node(s) had untolerated taint {gen: 2}"}},
	})
}

func TestTaintTolerationScore(t *testing.T) {
	prefer := func(key string) ft.NodeOpt { return ft.WithTaint(key, "", corev1.TaintEffectPreferNoSchedule) }
	runScoreCases(t, plugins.TaintToleration{}, []scoreCase{
		{name: "no PreferNoSchedule taints skips", nodes: []*corev1.Node{ft.MakeNode("a", "2", "4Gi"), ft.MakeNode("b", "2", "4Gi", ft.WithTaint("x", "", corev1.TaintEffectNoSchedule))},
			pod: ft.MakePod("p", nil), want: nil},
		{name: "fewer is better", nodes: []*corev1.Node{
			ft.MakeNode("a", "2", "4Gi"), ft.MakeNode("b", "2", "4Gi", prefer("x")), ft.MakeNode("c", "2", "4Gi", prefer("x"), prefer("y")),
			ft.MakeNode("d", "2", "4Gi", prefer("x"), prefer("y"), prefer("z")),
		}, pod: ft.MakePod("p", nil), want: []int64{100, 67, 34, 0}},
		{name: "tolerated taints do not count", nodes: []*corev1.Node{ft.MakeNode("a", "2", "4Gi", prefer("x")), ft.MakeNode("b", "2", "4Gi", prefer("y"))},
			pod: ft.MakePod("p", nil, ft.Tolerate("x", corev1.TaintEffectPreferNoSchedule)), want: []int64{100, 0}},
		{name: "NoSchedule taints do not count", nodes: []*corev1.Node{
			ft.MakeNode("a", "2", "4Gi", ft.WithTaint("x", "", corev1.TaintEffectNoSchedule)), ft.MakeNode("b", "2", "4Gi", prefer("y")),
		}, pod: ft.MakePod("p", nil, ft.Tolerate("x", "")), want: []int64{100, 0}},
	})
}
