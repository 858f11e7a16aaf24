package plugins

import (
	"context"

	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// ReasonNodeAffinity is NodeAffinity's reason, for the node selector and
// the required node affinity alike.
const ReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector"

var statusNodeAffinity = framework.NewStatus(framework.Unschedulable, ReasonNodeAffinity)

const (
	requiredAffinityKey  framework.StateKey = "NodeAffinity/required"
	preferredAffinityKey framework.StateKey = "NodeAffinity/preferred"
)

// NodeAffinity filters out nodes that do not match a pod's spec.nodeSelector
// and required node affinity, and scores nodes by the weights of the pod's
// preferred node affinity terms they match.
type NodeAffinity struct{}

// Name returns kube-scheduler's name of the plugin.
func (NodeAffinity) Name() string { return "NodeAffinity" }

// PreFilter parses the pod's selector and required terms once; a pod with
// neither skips Filter.
func (NodeAffinity) PreFilter(_ context.Context, state *framework.CycleState, pi *framework.PodInfo) *framework.Status {
	spec := &pi.Pod.Spec
	if len(spec.NodeSelector) == 0 && (spec.Affinity == nil || spec.Affinity.NodeAffinity == nil ||
		spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil) {
		return statusSkip
	}
	required := nodeaffinity.GetRequiredNodeAffinity(pi.Pod)
	state.Write(requiredAffinityKey, &required)
	return nil
}

// Filter fails a node that does not match; a term that cannot be evaluated
// counts as a mismatch.
func (NodeAffinity) Filter(_ context.Context, state *framework.CycleState, pi *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	var required *nodeaffinity.RequiredNodeAffinity
	if v, ok := state.Read(requiredAffinityKey); ok {
		required = v.(*nodeaffinity.RequiredNodeAffinity)
	} else {
		// Called without PreFilter.
		r := nodeaffinity.GetRequiredNodeAffinity(pi.Pod)
		required = &r
	}
	if matches, err := required.Match(n.Node()); !matches || err != nil {
		return statusNodeAffinity
	}
	return nil
}

// PreScore parses the pod's preferred terms once; a pod without any skips
// Score.
func (NodeAffinity) PreScore(_ context.Context, state *framework.CycleState, pi *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	a := pi.Pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return statusSkip
	}
	terms, err := nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	if err != nil {
		// Invalid terms were rejected by validation; an error leaves the
		// preference out rather than failing the pod.
		return statusSkip
	}
	state.Write(preferredAffinityKey, terms)
	return nil
}

// Score sums the weights of the preferred terms the node matches.
func (NodeAffinity) Score(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, n *framework.NodeInfo) (int64, *framework.Status) {
	v, ok := state.Read(preferredAffinityKey)
	if !ok {
		return 0, nil
	}
	return v.(*nodeaffinity.PreferredSchedulingTerms).Score(n.Node()), nil
}

// NormalizeScores scales the sums so that the best node scores
// MaxNodeScore.
func (NodeAffinity) NormalizeScores(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, scores []int64) *framework.Status {
	maxScore := maxOf(scores)
	if maxScore == 0 {
		return nil
	}
	for i, s := range scores {
		scores[i] = s * framework.MaxNodeScore / maxScore
	}
	return nil
}
