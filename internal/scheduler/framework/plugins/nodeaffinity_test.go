package plugins_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	ft "skiff.dev/skiff/internal/scheduler/framework/frameworktest"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

func selector(kv ...string) ft.PodOpt {
	return func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func requiredIn(key string, values ...string) ft.PodOpt {
	return func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}}}},
		}}}
	}
}

func preferred(weight int32, key, value string) ft.PodOpt {
	return func(p *corev1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}}
		}
		na := p.Spec.Affinity.NodeAffinity
		na.PreferredDuringSchedulingIgnoredDuringExecution = append(na.PreferredDuringSchedulingIgnoredDuringExecution, corev1.PreferredSchedulingTerm{
			Weight: weight, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value}}}},
		})
	}
}

func TestNodeAffinityFilter(t *testing.T) {
	ssd := ft.WithLabel("disk", "ssd")
	runFilterCases(t, plugins.NodeAffinity{}, []filterCase{
		{name: "nothing asked", node: ft.MakeNode("n", "2", "4Gi"), pod: ft.MakePod("p", nil)},
		{name: "selector, no label", node: ft.MakeNode("n", "2", "4Gi"), pod: ft.MakePod("p", nil, selector("disk", "ssd")),
			want: []string{plugins.ReasonNodeAffinity}},
		{name: "selector matches", node: ft.MakeNode("n", "2", "4Gi", ssd), pod: ft.MakePod("p", nil, selector("disk", "ssd"))},
		{name: "selector, other value", node: ft.MakeNode("n", "2", "4Gi", ft.WithLabel("disk", "hdd")), pod: ft.MakePod("p", nil, selector("disk", "ssd")),
			want: []string{plugins.ReasonNodeAffinity}},
		{name: "required affinity fails", node: ft.MakeNode("n", "2", "4Gi", ft.WithLabel("zone", "a")), pod: ft.MakePod("p", nil, requiredIn("zone", "b")),
			want: []string{plugins.ReasonNodeAffinity}},
		{name: "required affinity holds", node: ft.MakeNode("n", "2", "4Gi", ft.WithLabel("zone", "a")), pod: ft.MakePod("p", nil, requiredIn("zone", "a", "b"))},
		{name: "selector and affinity both needed", node: ft.MakeNode("n", "2", "4Gi", ft.WithLabel("zone", "a")),
			pod: ft.MakePod("p", nil, requiredIn("zone", "a"), selector("disk", "ssd")), want: []string{plugins.ReasonNodeAffinity}},
		{name: "hostname", node: ft.MakeNode("n", "2", "4Gi"), pod: ft.MakePod("p", nil, requiredIn(corev1.LabelHostname, "n"))},
		{name: "preferred terms do not filter", node: ft.MakeNode("n", "2", "4Gi"), pod: ft.MakePod("p", nil, preferred(10, "disk", "ssd"))},
	})
}

func TestNodeAffinityScore(t *testing.T) {
	nodes := []*corev1.Node{
		ft.MakeNode("plain", "2", "4Gi"),
		ft.MakeNode("ssd", "2", "4Gi", ft.WithLabel("disk", "ssd")),
		ft.MakeNode("ssd-gpu", "2", "4Gi", ft.WithLabel("disk", "ssd"), ft.WithLabel("gpu", "yes")),
		ft.MakeNode("gpu", "2", "4Gi", ft.WithLabel("gpu", "yes")),
	}
	runScoreCases(t, plugins.NodeAffinity{}, []scoreCase{
		{name: "no preference skips", nodes: nodes, pod: ft.MakePod("p", nil), want: nil},
		{name: "one term", nodes: nodes, pod: ft.MakePod("p", nil, preferred(10, "disk", "ssd")), want: []int64{0, 100, 100, 0}},
		{name: "weights add up", nodes: nodes, pod: ft.MakePod("p", nil, preferred(10, "disk", "ssd"), preferred(20, "gpu", "yes")),
			want: []int64{0, 33, 100, 66}},
		{name: "no node matches", nodes: nodes, pod: ft.MakePod("p", nil, preferred(10, "disk", "nvme")), want: []int64{0, 0, 0, 0}},
	})
}
