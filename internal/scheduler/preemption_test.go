package scheduler

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/scheduler/framework"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

func prioPod(name, cpu string, prio int32, mutate ...func(*corev1.Pod)) *corev1.Pod {
	return fakePod(name, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}, append([]func(*corev1.Pod){func(p *corev1.Pod) {
		p.Spec.Priority = ptr.To(prio)
		p.Labels = map[string]string{"app": name[:len(name)-1]}
	}}, mutate...)...)
}

func TestFindCandidate(t *testing.T) {
	budget := func(app string, allowed int32) *policyv1.PodDisruptionBudget {
		return &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: app},
			Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}},
			Status:     policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed},
		}
	}
	tests := []struct {
		name        string
		nodes       map[string][]*corev1.Pod // node (4 CPUs) -> its pods
		pdbs        []*policyv1.PodDisruptionBudget
		pod         *corev1.Pod
		wantNode    string
		wantVictims []string
		wantBreaks  int
	}{
		{
			name:        "one low pod makes room",
			nodes:       map[string][]*corev1.Pod{"n1": {prioPod("batch1", "4", 0)}},
			pod:         prioPod("infer1", "2", 1000),
			wantNode:    "n1",
			wantVictims: []string{"batch1"},
		},
		{
			name:  "equal priority is never a victim",
			nodes: map[string][]*corev1.Pod{"n1": {prioPod("batch1", "4", 1000)}},
			pod:   prioPod("infer1", "2", 1000),
		},
		{
			name:        "fewest victims: only what is needed goes, lowest priority first",
			nodes:       map[string][]*corev1.Pod{"n1": {prioPod("a1", "2", 10), prioPod("b1", "2", 5)}},
			pod:         prioPod("infer1", "2", 1000),
			wantNode:    "n1",
			wantVictims: []string{"b1"},
		},
		{
			name: "the node whose victims have the lower priority",
			nodes: map[string][]*corev1.Pod{
				"n1": {prioPod("a1", "4", 500)},
				"n2": {prioPod("b1", "4", 100)},
			},
			pod:         prioPod("infer1", "2", 1000),
			wantNode:    "n2",
			wantVictims: []string{"b1"},
		},
		{
			name: "a budget steers preemption to the other node",
			nodes: map[string][]*corev1.Pod{
				"n1": {prioPod("db1", "4", 0)},
				"n2": {prioPod("web1", "4", 100)},
			},
			pdbs:        []*policyv1.PodDisruptionBudget{budget("db", 0)},
			pod:         prioPod("infer1", "2", 1000),
			wantNode:    "n2",
			wantVictims: []string{"web1"},
		},
		{
			name:        "a budget is broken where nothing else makes room",
			nodes:       map[string][]*corev1.Pod{"n1": {prioPod("db1", "4", 0)}},
			pdbs:        []*policyv1.PodDisruptionBudget{budget("db", 0)},
			pod:         prioPod("infer1", "2", 1000),
			wantNode:    "n1",
			wantVictims: []string{"db1"},
			wantBreaks:  1,
		},
		{
			name:  "evicting everything lower is not enough",
			nodes: map[string][]*corev1.Pod{"n1": {prioPod("a1", "2", 0), prioPod("high1", "2", 2000)}},
			pod:   prioPod("infer1", "3", 1000),
		},
		{
			name:  "pods already terminating are no victims",
			nodes: map[string][]*corev1.Pod{"n1": {prioPod("a1", "4", 0, func(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.Now()) })}},
			pod:   prioPod("infer1", "2", 1000),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alg := framework.NewAlgorithm(plugins.Default(), 100, 1)
			var nodes []*framework.NodeInfo
			byNode := map[string][]*framework.PodInfo{}
			for name, pods := range tt.nodes {
				n := framework.NewNodeInfo(fakeNode(name, "4"))
				for _, p := range pods {
					p.Spec.NodeName = name
					pi := framework.NewPodInfo(p)
					n.AddPod(pi)
					byNode[name] = append(byNode[name], pi)
				}
				nodes = append(nodes, n)
			}
			c := findCandidate(context.Background(), alg, framework.NewPodInfo(tt.pod), nodes, byNode, tt.pdbs)
			if tt.wantNode == "" {
				if c != nil {
					t.Fatalf("candidate %s with victims %v, want none", c.node, names(c.victims))
				}
				return
			}
			if c == nil {
				t.Fatalf("no candidate, want %s", tt.wantNode)
			}
			if c.node != tt.wantNode || !slices.Equal(names(c.victims), tt.wantVictims) || c.violations != tt.wantBreaks {
				t.Errorf("got node %s victims %v violations %d, want %s %v %d", c.node, names(c.victims), c.violations, tt.wantNode, tt.wantVictims, tt.wantBreaks)
			}
		})
	}
}

func TestMayPreempt(t *testing.T) {
	terminating := prioPod("old1", "1", 0, func(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.Now()) })
	byNode := map[string][]*framework.PodInfo{"n1": {framework.NewPodInfo(terminating)}}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{"a pending pod", prioPod("p1", "1", 100), true},
		{"preemptionPolicy Never", prioPod("p1", "1", 100, func(p *corev1.Pod) { p.Spec.PreemptionPolicy = ptr.To(corev1.PreemptNever) }), false},
		{"victims still terminating on the nominated node", prioPod("p1", "1", 100, func(p *corev1.Pod) { p.Status.NominatedNodeName = "n1" }), false},
		{"nominated node with nothing terminating", prioPod("p1", "1", 100, func(p *corev1.Pod) { p.Status.NominatedNodeName = "n2" }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mayPreempt(tt.pod, byNode); got != tt.want {
				t.Errorf("mayPreempt = %v, want %v", got, tt.want)
			}
		})
	}
}

func names(pis []*framework.PodInfo) []string {
	var out []string
	for _, pi := range pis {
		out = append(out, pi.Pod.Name)
	}
	return out
}
