package framework

import corev1 "k8s.io/api/core/v1"

// MaxNodeScore is the most one scorer gives a node.
const MaxNodeScore int64 = 100

// Weights of the scorers, kube-scheduler's defaults for the same plugins.
const (
	weightLeastAllocated     = 1 // NodeResourcesFit (LeastAllocated)
	weightBalancedAllocation = 1 // NodeResourcesBalancedAllocation
	weightSpread             = 2 // PodTopologySpread (system default, per node)
	weightNodeAffinity       = 2 // NodeAffinity (preferred terms)
	weightTaintToleration    = 3 // TaintToleration (PreferNoSchedule)
)

// leastAllocated favours nodes with more cpu and memory left after placing
// the pod, each weighted equally: (allocatable - requested) * 100 / allocatable.
func leastAllocated(pi *PodInfo, n *NodeInfo) int64 {
	cpu := freeShare(n.NonZeroMilliCPU+pi.NonZeroMilliCPU, n.Allocatable.MilliCPU)
	mem := freeShare(n.NonZeroMemory+pi.NonZeroMemory, n.Allocatable.Memory)
	return (cpu + mem) / 2
}

func freeShare(requested, allocatable int64) int64 {
	if allocatable <= 0 || requested > allocatable {
		return 0
	}
	return (allocatable - requested) * MaxNodeScore / allocatable
}

// balancedAllocation favours nodes whose cpu and memory would be used in
// the same proportion: (1 - standard deviation of the two fractions) * 100.
func balancedAllocation(pi *PodInfo, n *NodeInfo) int64 {
	cpu := fraction(n.NonZeroMilliCPU+pi.NonZeroMilliCPU, n.Allocatable.MilliCPU)
	mem := fraction(n.NonZeroMemory+pi.NonZeroMemory, n.Allocatable.Memory)
	d := cpu - mem
	if d < 0 {
		d = -d
	}
	return int64((1 - d/2) * float64(MaxNodeScore))
}

func fraction(requested, allocatable int64) float64 {
	if allocatable <= 0 {
		return 1
	}
	f := float64(requested) / float64(allocatable)
	if f > 1 {
		return 1
	}
	return f
}

// intolerablePreferNoSchedule counts the node's PreferNoSchedule taints the
// pod does not tolerate.
func intolerablePreferNoSchedule(pi *PodInfo, node *corev1.Node) int64 {
	var c int64
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule && !tolerates(pi.preferNoSchedule, t) {
			c++
		}
	}
	return c
}

// preferredAffinity sums the weights of the pod's preferred node affinity
// terms that the node matches.
func preferredAffinity(pi *PodInfo, node *corev1.Node) int64 {
	if pi.preferredAffinity == nil {
		return 0
	}
	return pi.preferredAffinity.Score(node)
}
