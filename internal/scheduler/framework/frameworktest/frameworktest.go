// Package frameworktest builds nodes, pods and NodeInfos for the tests of
// the scheduler's framework and plugins.
package frameworktest

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// NodeOpt changes a node MakeNode builds.
type NodeOpt func(*corev1.Node)

// MakeNode returns a node with the cpu and memory allocatable, 110 pods,
// 100Gi of ephemeral storage and its hostname label.
func MakeNode(name, cpu, mem string, opts ...NodeOpt) *corev1.Node {
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

// WithTaint adds a taint.
func WithTaint(key, value string, effect corev1.TaintEffect) NodeOpt {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	}
}

// WithAllocatable sets one allocatable amount.
func WithAllocatable(name corev1.ResourceName, q string) NodeOpt {
	return func(n *corev1.Node) { n.Status.Allocatable[name] = resource.MustParse(q) }
}

// WithLabel adds a label.
func WithLabel(k, v string) NodeOpt { return func(n *corev1.Node) { n.Labels[k] = v } }

// Unschedulable cordons the node.
func Unschedulable(n *corev1.Node) { n.Spec.Unschedulable = true }

// PodOpt changes a pod MakePod builds.
type PodOpt func(*corev1.Pod)

// MakePod returns a pod in "default" with UID "uid-NAME" and one container
// with the requests.
func MakePod(name string, requests corev1.ResourceList, opts ...PodOpt) *corev1.Pod {
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

// Req builds a ResourceList from name, quantity pairs.
func Req(pairs ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(pairs); i += 2 {
		l[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return l
}

// OwnedBy makes a ReplicaSet with the UID the pod's controller.
func OwnedBy(uid string) PodOpt {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: types.UID(uid), Controller: ptr.To(true)}}
	}
}

// HostPort adds a host port (TCP) on the IP ("" for all) to the first
// container.
func HostPort(port int32, ip string) PodOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: 80, HostPort: port, HostIP: ip})
	}
}

// Tolerate adds a toleration of any value of the key with the effect
// ("" for all effects).
func Tolerate(key string, effect corev1.TaintEffect) PodOpt {
	return func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect})
	}
}

// NodeInfos returns a NodeInfo per node with the placed pods added.
func NodeInfos(nodes []*corev1.Node, placed map[string][]*corev1.Pod) []*framework.NodeInfo {
	var out []*framework.NodeInfo
	for _, n := range nodes {
		ni := framework.NewNodeInfo(n)
		for _, p := range placed[n.Name] {
			ni.AddPod(framework.NewPodInfo(p))
		}
		out = append(out, ni)
	}
	return out
}

// RunFilter runs one filter plugin as the Algorithm does for one node: its
// PreFilter first, when it has one, then Filter unless PreFilter said Skip.
// It returns the status that decided.
func RunFilter(ctx context.Context, p framework.FilterPlugin, pod *corev1.Pod, n *framework.NodeInfo) *framework.Status {
	state, pi := framework.NewCycleState(), framework.NewPodInfo(pod)
	if pf, ok := p.(framework.PreFilterPlugin); ok {
		st := pf.PreFilter(ctx, state, pi)
		if st.Code() == framework.Skip || !st.IsSuccess() {
			return st
		}
	}
	return p.Filter(ctx, state, pi, n)
}

// RunScore runs one score plugin as the Algorithm does over feasible
// nodes: PreScore when it has one, Score per node, NormalizeScores when it
// has that. It returns the scores before weighting, nil when PreScore said
// Skip, and the first status that was not a success.
func RunScore(ctx context.Context, p framework.ScorePlugin, pod *corev1.Pod, nodes []*framework.NodeInfo) ([]int64, *framework.Status) {
	state, pi := framework.NewCycleState(), framework.NewPodInfo(pod)
	if ps, ok := p.(framework.PreScorePlugin); ok {
		st := ps.PreScore(ctx, state, pi, nodes)
		if st.Code() == framework.Skip || !st.IsSuccess() {
			return nil, st
		}
	}
	scores := make([]int64, 0, len(nodes))
	for _, n := range nodes {
		s, st := p.Score(ctx, state, pi, n)
		if !st.IsSuccess() {
			return nil, st
		}
		scores = append(scores, s)
	}
	if sn, ok := p.(framework.ScoreNormalizer); ok {
		if st := sn.NormalizeScores(ctx, state, pi, scores); !st.IsSuccess() {
			return nil, st
		}
	}
	return scores, nil
}
