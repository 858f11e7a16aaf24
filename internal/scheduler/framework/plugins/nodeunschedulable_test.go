package plugins_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	ft "skiff.dev/skiff/internal/scheduler/framework/frameworktest"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

func TestNodeUnschedulable(t *testing.T) {
	runFilterCases(t, plugins.NodeUnschedulable{}, []filterCase{
		{name: "schedulable", node: ft.MakeNode("n", "2", "4Gi"), pod: ft.MakePod("p", nil)},
		{name: "cordoned", node: ft.MakeNode("n", "2", "4Gi", ft.Unschedulable), pod: ft.MakePod("p", nil),
			want: []string{plugins.ReasonNodeUnschedulable}},
		{name: "cordoned, tolerated", node: ft.MakeNode("n", "2", "4Gi", ft.Unschedulable),
			pod: ft.MakePod("p", nil, ft.Tolerate(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule))},
		{name: "cordoned, everything tolerated", node: ft.MakeNode("n", "2", "4Gi", ft.Unschedulable),
			pod: ft.MakePod("p", nil, ft.Tolerate("", ""))},
		{name: "cordoned, NoExecute tolerated only", node: ft.MakeNode("n", "2", "4Gi", ft.Unschedulable),
			pod:  ft.MakePod("p", nil, ft.Tolerate(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoExecute)),
			want: []string{plugins.ReasonNodeUnschedulable}},
	})
}
