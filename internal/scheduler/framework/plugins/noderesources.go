package plugins

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// NodeResourcesFit's reasons: ReasonTooManyPods, and "Insufficient " with
// the name of each resource that is short ("Insufficient nvidia.com/gpu").
const (
	ReasonTooManyPods  = "Too many pods"
	reasonInsufficient = "Insufficient "
)

var (
	reasonInsufficientCPU     = reasonInsufficient + string(corev1.ResourceCPU)
	reasonInsufficientMemory  = reasonInsufficient + string(corev1.ResourceMemory)
	reasonInsufficientStorage = reasonInsufficient + string(corev1.ResourceEphemeralStorage)
)

// NodeResourcesFit filters out nodes without room for the pod's requests
// (pods, cpu, memory, ephemeral storage and every scalar resource:
// nvidia.com/gpu and other extended resources, hugepages), and scores the
// nodes with more cpu and memory left after placing the pod higher
// (kube-scheduler's LeastAllocated strategy).
type NodeResourcesFit struct{}

// Name returns kube-scheduler's name of the plugin.
func (NodeResourcesFit) Name() string { return "NodeResourcesFit" }

// Filter fails a node that lacks room, with one reason per resource that is
// short.
func (NodeResourcesFit) Filter(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	var reasons []string
	if int64(n.Pods)+1 > n.AllowedPods {
		reasons = append(reasons, ReasonTooManyPods)
	}
	req, alloc, used := &pi.Requests, &n.Allocatable, &n.Requested
	if req.MilliCPU > 0 && req.MilliCPU > alloc.MilliCPU-used.MilliCPU {
		reasons = append(reasons, reasonInsufficientCPU)
	}
	if req.Memory > 0 && req.Memory > alloc.Memory-used.Memory {
		reasons = append(reasons, reasonInsufficientMemory)
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage {
		reasons = append(reasons, reasonInsufficientStorage)
	}
	for name, v := range req.Scalar {
		if v > 0 && v > alloc.Scalar[name]-used.Scalar[name] {
			reasons = append(reasons, reasonInsufficient+string(name))
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	return framework.NewStatus(framework.Unschedulable, reasons...)
}

// Score is (allocatable - requested) * MaxNodeScore / allocatable for cpu
// and for memory, averaged, counting the scoring defaults for containers
// that request neither.
func (NodeResourcesFit) Score(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, n *framework.NodeInfo) (int64, *framework.Status) {
	cpu := freeShare(n.NonZeroMilliCPU+pi.NonZeroMilliCPU, n.Allocatable.MilliCPU)
	mem := freeShare(n.NonZeroMemory+pi.NonZeroMemory, n.Allocatable.Memory)
	return (cpu + mem) / 2, nil
}

func freeShare(requested, allocatable int64) int64 {
	if allocatable <= 0 || requested > allocatable {
		return 0
	}
	return (allocatable - requested) * framework.MaxNodeScore / allocatable
}
