package plugins

import (
	"context"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// BalancedAllocation scores nodes whose cpu and memory would be used in the
// same proportion higher: (1 - the standard deviation of the two
// fractions) * MaxNodeScore.
type BalancedAllocation struct{}

// Name returns kube-scheduler's name of the plugin.
func (BalancedAllocation) Name() string { return "NodeResourcesBalancedAllocation" }

// Score is the node's balance after placing the pod.
func (BalancedAllocation) Score(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, n *framework.NodeInfo) (int64, *framework.Status) {
	cpu := fraction(n.NonZeroMilliCPU+pi.NonZeroMilliCPU, n.Allocatable.MilliCPU)
	mem := fraction(n.NonZeroMemory+pi.NonZeroMemory, n.Allocatable.Memory)
	d := cpu - mem
	if d < 0 {
		d = -d
	}
	return int64((1 - d/2) * float64(framework.MaxNodeScore)), nil
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
