package plugins

import (
	"context"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// ReasonNodeName is NodeName's reason.
const ReasonNodeName = "node(s) didn't match the requested node name"

var statusNodeName = framework.NewStatus(framework.Unschedulable, ReasonNodeName)

// NodeName filters out every node but the one a pod's spec.nodeName names,
// when it names one.
type NodeName struct{}

// Name returns kube-scheduler's name of the plugin.
func (NodeName) Name() string { return "NodeName" }

// PreFilter skips Filter for a pod that names no node, as pending pods do.
func (NodeName) PreFilter(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo) *framework.Status {
	if pi.Pod.Spec.NodeName == "" {
		return statusSkip
	}
	return nil
}

// Filter fails a node other than the requested one.
func (NodeName) Filter(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	if want := pi.Pod.Spec.NodeName; want != "" && want != n.Node().Name {
		return statusNodeName
	}
	return nil
}
