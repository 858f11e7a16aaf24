package framework

import (
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

type nodeOpt func(*corev1.Node)

func makeNode(name, cpu, mem string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse(cpu),
			corev1.ResourceMemory:           resource.MustParse(mem),
			corev1.ResourcePods:             resource.MustParse("110"),
			corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
		}},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withTaint(key, value string, effect corev1.TaintEffect) nodeOpt {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func withAllocatable(name corev1.ResourceName, q string) nodeOpt {
	return func(n *corev1.Node) { n.Status.Allocatable[name] = resource.MustParse(q) }
}

func withLabel(k, v string) nodeOpt { return func(n *corev1.Node) { n.Labels[k] = v } }

func unschedulable(n *corev1.Node) { n.Spec.Unschedulable = true }

type podOpt func(*corev1.Pod)

func makePod(name string, requests corev1.ResourceList, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Resources: corev1.ResourceRequirements{Requests: requests},
		}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func req(pairs ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(pairs); i += 2 {
		l[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return l
}

func ownedBy(uid string) podOpt {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: types.UID(uid), Controller: ptr.To(true)}}
	}
}

func hostPort(port int32, ip string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: 80, HostPort: port, HostIP: ip})
	}
}

func nodeInfos(nodes []*corev1.Node, placed map[string][]*corev1.Pod) []*NodeInfo {
	var out []*NodeInfo
	for _, n := range nodes {
		ni := NewNodeInfo(n)
		for _, p := range placed[n.Name] {
			ni.AddPod(NewPodInfo(p))
		}
		out = append(out, ni)
	}
	return out
}

func TestPodRequests(t *testing.T) {
	sidecar := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name    string
		pod     *corev1.Pod
		wantCPU int64
		wantMem int64
		nzCPU   int64
	}{
		{"containers", makePod("p", req("cpu", "500m", "memory", "1Gi")), 500, 1 << 30, 500},
		{"no requests use scoring defaults", makePod("p", nil), 0, 0, DefaultMilliCPURequest},
		{"init container larger than containers", makePod("p", req("cpu", "500m"), func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{Requests: req("cpu", "2")}}}
		}), 2000, 0, 2000},
		{"sidecar adds to containers", makePod("p", req("cpu", "500m"), func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "side", RestartPolicy: &sidecar, Resources: corev1.ResourceRequirements{Requests: req("cpu", "250m")}}}
		}), 750, 0, 750},
		{"overhead", makePod("p", req("cpu", "500m"), func(p *corev1.Pod) {
			p.Spec.Overhead = req("cpu", "100m")
		}), 600, 0, 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pi := NewPodInfo(tt.pod)
			if pi.Requests.MilliCPU != tt.wantCPU || pi.Requests.Memory != tt.wantMem || pi.NonZeroMilliCPU != tt.nzCPU {
				t.Errorf("requests cpu=%d mem=%d nonzero cpu=%d; want %d %d %d", pi.Requests.MilliCPU, pi.Requests.Memory, pi.NonZeroMilliCPU, tt.wantCPU, tt.wantMem, tt.nzCPU)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	tolerate := func(key string, effect corev1.TaintEffect) podOpt {
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
		{"fits", makeNode("n", "2", "4Gi"), nil, makePod("p", req("cpu", "1", "memory", "1Gi")), nil},
		{"insufficient cpu and memory", makeNode("n", "2", "4Gi"), []*corev1.Pod{makePod("a", req("cpu", "1500m", "memory", "3Gi"))},
			makePod("p", req("cpu", "1", "memory", "2Gi")), []string{"Insufficient cpu", "Insufficient memory"}},
		{"extended resource missing", makeNode("n", "2", "4Gi"), nil, makePod("p", req("nvidia.com/gpu", "1")), []string{"Insufficient nvidia.com/gpu"}},
		{"extended resource present", makeNode("n", "2", "4Gi", withAllocatable("nvidia.com/gpu", "1")), nil, makePod("p", req("nvidia.com/gpu", "1")), nil},
		{"extended resource used", makeNode("n", "2", "4Gi", withAllocatable("nvidia.com/gpu", "1")), []*corev1.Pod{makePod("a", req("nvidia.com/gpu", "1"))},
			makePod("p", req("nvidia.com/gpu", "1")), []string{"Insufficient nvidia.com/gpu"}},
		{"ephemeral storage", makeNode("n", "2", "4Gi"), nil, makePod("p", req("ephemeral-storage", "200Gi")), []string{"Insufficient ephemeral-storage"}},
		{"too many pods", makeNode("n", "2", "4Gi", withAllocatable("pods", "1")), []*corev1.Pod{makePod("a", nil)}, makePod("p", nil), []string{"Too many pods"}},
		{"unschedulable node", makeNode("n", "2", "4Gi", unschedulable), nil, makePod("p", nil), []string{ReasonNodeUnschedulable}},
		{"unschedulable tolerated", makeNode("n", "2", "4Gi", unschedulable), nil,
			makePod("p", nil, tolerate(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)), nil},
		{"NoSchedule taint", makeNode("n", "2", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil, makePod("p", nil),
			[]string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{"NoExecute taint", makeNode("n", "2", "4Gi", withTaint(corev1.TaintNodeUnreachable, "", corev1.TaintEffectNoExecute)), nil, makePod("p", nil),
			[]string{"node(s) had untolerated taint {node.kubernetes.io/unreachable: }"}},
		{"taint tolerated", makeNode("n", "2", "4Gi", withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil,
			makePod("p", nil, tolerate("dedicated", "")), nil},
		{"PreferNoSchedule does not filter", makeNode("n", "2", "4Gi", withTaint("x", "y", corev1.TaintEffectPreferNoSchedule)), nil, makePod("p", nil), nil},
		{"node selector", makeNode("n", "2", "4Gi"), nil, makePod("p", nil, func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }),
			[]string{ReasonNodeAffinity}},
		{"node selector matches", makeNode("n", "2", "4Gi", withLabel("disk", "ssd")), nil,
			makePod("p", nil, func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }), nil},
		{"required affinity", makeNode("n", "2", "4Gi", withLabel("zone", "a")), nil, makePod("p", nil, func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}}},
			}}}
		}), []string{ReasonNodeAffinity}},
		{"node name", makeNode("n", "2", "4Gi"), nil, makePod("p", nil, func(p *corev1.Pod) { p.Spec.NodeName = "other" }), []string{ReasonNodeName}},
		{"host port conflict", makeNode("n", "2", "4Gi"), []*corev1.Pod{makePod("a", nil, hostPort(8080, ""))}, makePod("p", nil, hostPort(8080, "10.0.0.1")),
			[]string{ReasonNodePorts}},
		{"host port other IP", makeNode("n", "2", "4Gi"), []*corev1.Pod{makePod("a", nil, hostPort(8080, "10.0.0.2"))}, makePod("p", nil, hostPort(8080, "10.0.0.1")), nil},
		{"host port other port", makeNode("n", "2", "4Gi"), []*corev1.Pod{makePod("a", nil, hostPort(8080, ""))}, makePod("p", nil, hostPort(8081, "")), nil},
		{"first failing filter wins", makeNode("n", "1", "1Gi", withTaint("a", "b", corev1.TaintEffectNoSchedule)), nil, makePod("p", req("cpu", "2")),
			[]string{"node(s) had untolerated taint {a: b}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ni := nodeInfos([]*corev1.Node{tt.node}, map[string][]*corev1.Pod{tt.node.Name: tt.placed})[0]
			got := Filter(NewPodInfo(tt.pod), ni, nil)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFitErrorMessage(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("a", "1", "1Gi", withTaint(corev1.TaintNodeUnreachable, "", corev1.TaintEffectNoExecute)),
		makeNode("b", "1", "1Gi"),
		makeNode("c", "1", "1Gi"),
	}
	_, err := NewAlgorithm(0, 1).Schedule(NewPodInfo(makePod("p", req("cpu", "2"))), nodeInfos(nodes, nil))
	want := "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient cpu."
	var fe *FitError
	if !errors.As(err, &fe) || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	_, err = NewAlgorithm(0, 1).Schedule(NewPodInfo(makePod("p", nil)), nil)
	if !errors.Is(err, ErrNoNodesAvailable) {
		t.Fatalf("no nodes: err = %v", err)
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct {
		pct       int32
		all, want int
	}{
		{0, 10, 10}, {0, 99, 99}, {0, 100, 100}, {0, 500, 230}, {0, 1000, 420}, {0, 5000, 500}, {0, 6000, 300},
		{10, 500, 100}, {10, 5000, 500}, {100, 5000, 5000},
	}
	for _, tt := range tests {
		if got := NewAlgorithm(tt.pct, 1).NumFeasibleNodesToFind(tt.all); got != tt.want {
			t.Errorf("pct %d, %d nodes: %d, want %d", tt.pct, tt.all, got, tt.want)
		}
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
		{"least allocated", []*corev1.Node{makeNode("busy", "4", "8Gi"), makeNode("idle", "4", "8Gi")},
			map[string][]*corev1.Pod{"busy": {makePod("a", req("cpu", "3", "memory", "6Gi"))}}, makePod("p", req("cpu", "500m", "memory", "1Gi")), "idle"},
		{"spreads one owner's pods", []*corev1.Node{makeNode("has", "4", "8Gi"), makeNode("other", "4", "8Gi")},
			map[string][]*corev1.Pod{
				"has":   {makePod("a", req("cpu", "100m"), ownedBy("rs1"))},
				"other": {makePod("b", req("cpu", "1", "memory", "2Gi"), ownedBy("rs2"))},
			}, makePod("p", req("cpu", "100m"), ownedBy("rs1")), "other"},
		{"avoids PreferNoSchedule", []*corev1.Node{makeNode("tainted", "4", "8Gi", withTaint("x", "", corev1.TaintEffectPreferNoSchedule)), makeNode("clean", "4", "8Gi")},
			map[string][]*corev1.Pod{"clean": {makePod("a", req("cpu", "1", "memory", "2Gi"))}}, makePod("p", nil), "clean"},
		{"preferred affinity", []*corev1.Node{makeNode("plain", "4", "8Gi"), makeNode("ssd", "4", "8Gi", withLabel("disk", "ssd"))},
			map[string][]*corev1.Pod{"ssd": {makePod("a", req("cpu", "1", "memory", "2Gi"))}}, makePod("p", nil, func(p *corev1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
					Weight: 10, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}},
				}}}}
			}), "ssd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				n, err := NewAlgorithm(0, seed).Schedule(NewPodInfo(tt.pod), nodeInfos(tt.nodes, tt.placed))
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
	nodes := nodeInfos([]*corev1.Node{makeNode("a", "8", "16Gi"), makeNode("b", "8", "16Gi"), makeNode("c", "8", "16Gi")}, nil)
	alg := NewAlgorithm(0, 42)
	for i := range 30 {
		pi := NewPodInfo(makePod(fmt.Sprint("p", i), req("cpu", "100m"), ownedBy("rs")))
		n, err := alg.Schedule(pi, nodes)
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
	nodes := nodeInfos([]*corev1.Node{makeNode("a", "4", "8Gi"), makeNode("b", "4", "8Gi"), makeNode("c", "4", "8Gi")}, nil)
	seen := map[string]bool{}
	alg := NewAlgorithm(0, 7)
	for range 100 {
		n, err := alg.Schedule(NewPodInfo(makePod("p", nil)), nodes)
		if err != nil {
			t.Fatal(err)
		}
		seen[n.Node().Name] = true
	}
	if len(seen) != 3 {
		t.Errorf("picked %v; want every one of 3 equal nodes at some point", seen)
	}
}
