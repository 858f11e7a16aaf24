package plugins

import (
	"context"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// OwnerSpread scores nodes with fewer pods of the pod's controller (its
// ReplicaSet, Job...) higher, which is what kube-scheduler's default
// PodTopologySpread constraint per hostname amounts to for one owner's
// pods.
type OwnerSpread struct{}

// Name returns the plugin's name.
func (OwnerSpread) Name() string { return "OwnerSpread" }

// PreScore skips Score for a pod without an owner: every node would score
// the same.
func (OwnerSpread) PreScore(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	if pi.Owner == "" {
		return statusSkip
	}
	return nil
}

// Score counts the pods of the same owner on the node; NormalizeScores
// turns fewer into higher.
func (OwnerSpread) Score(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, n *framework.NodeInfo) (int64, *framework.Status) {
	return int64(n.OwnedPods(pi.Owner)), nil
}

// NormalizeScores scores the node with the most pods of the owner 0 and
// one without any MaxNodeScore.
func (OwnerSpread) NormalizeScores(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, scores []int64) *framework.Status {
	normaliseInverse(scores)
	return nil
}
