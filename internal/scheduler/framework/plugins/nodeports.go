package plugins

import (
	"context"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// ReasonNodePorts is NodePorts' reason.
const ReasonNodePorts = "node(s) didn't have free ports for the requested pod ports"

var statusNodePorts = framework.NewStatus(framework.Unschedulable, ReasonNodePorts)

// NodePorts filters out nodes where a host port the pod asks for is taken:
// the same protocol and port on the same IP, or where either side binds
// 0.0.0.0.
type NodePorts struct{}

// Name returns kube-scheduler's name of the plugin.
func (NodePorts) Name() string { return "NodePorts" }

// PreFilter skips Filter for a pod without host ports.
func (NodePorts) PreFilter(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo) *framework.Status {
	if len(pi.HostPorts) == 0 {
		return statusSkip
	}
	return nil
}

// Filter fails a node where one of the pod's host ports is in use.
func (NodePorts) Filter(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	for _, hp := range pi.HostPorts {
		if n.HostPortConflict(hp) {
			return statusNodePorts
		}
	}
	return nil
}
