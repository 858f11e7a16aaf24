package plugins

import "skiff.dev/skiff/internal/scheduler/framework"

// Default returns the scheduler's profile, the part of kube-scheduler's
// default profile skiff implements: the filters in kube-scheduler's order
// (the first that fails names the reason) and the scorers with
// kube-scheduler's default weights.
func Default() framework.Profile {
	return framework.Profile{
		Filters: []framework.FilterPlugin{
			NodeUnschedulable{},
			NodeName{},
			TaintToleration{},
			NodeAffinity{},
			NodePorts{},
			NodeResourcesFit{},
		},
		Scores: []framework.WeightedScorePlugin{
			{Plugin: NodeResourcesFit{}, Weight: 1},
			{Plugin: BalancedAllocation{}, Weight: 1},
			{Plugin: OwnerSpread{}, Weight: 2}, // as PodTopologySpread
			{Plugin: NodeAffinity{}, Weight: 2},
			{Plugin: TaintToleration{}, Weight: 3},
		},
	}
}
