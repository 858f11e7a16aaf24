package plugins

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// ReasonNodeUnschedulable is NodeUnschedulable's reason.
const ReasonNodeUnschedulable = "node(s) were unschedulable"

var (
	unschedulableTaint  = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
	statusUnschedulable = framework.NewStatus(framework.Unschedulable, ReasonNodeUnschedulable)
)

// NodeUnschedulable filters out cordoned nodes (spec.unschedulable) unless
// the pod tolerates the node.kubernetes.io/unschedulable:NoSchedule taint.
type NodeUnschedulable struct{}

// Name returns kube-scheduler's name of the plugin.
func (NodeUnschedulable) Name() string { return "NodeUnschedulable" }

// Filter fails a node that is unschedulable for the pod.
func (NodeUnschedulable) Filter(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	if n.Node().Spec.Unschedulable && !tolerates(pi.Pod.Spec.Tolerations, &unschedulableTaint) {
		return statusUnschedulable
	}
	return nil
}
