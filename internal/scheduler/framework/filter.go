package framework

import (
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
)

// Reasons a node does not fit a pod, worded as kube-scheduler's plugins word
// them; FitError counts them into its summary.
const (
	ReasonNodeUnschedulable = "node(s) were unschedulable"
	ReasonNodeName          = "node(s) didn't match the requested node name"
	ReasonNodeAffinity      = "node(s) didn't match Pod's node affinity/selector"
	ReasonNodePorts         = "node(s) didn't have free ports for the requested pod ports"
	ReasonTooManyPods       = "Too many pods"
	reasonTaintFormat       = "node(s) had untolerated taint {%s: %s}"
	reasonInsufficient      = "Insufficient "
)

var (
	reasonInsufficientCPU     = reasonInsufficient + string(corev1.ResourceCPU)
	reasonInsufficientMemory  = reasonInsufficient + string(corev1.ResourceMemory)
	reasonInsufficientStorage = reasonInsufficient + string(corev1.ResourceEphemeralStorage)
)

// Tolerations with the Lt and Gt operators (numeric taint values) are honoured
// when the API server accepted them.
const comparisonOperators = true

func tolerates(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(logr.Discard(), taint, comparisonOperators) {
			return true
		}
	}
	return false
}

// Filter appends to reasons why pi cannot run on n, and returns them; none
// means the node fits. Like kube-scheduler it stops at the first filter that
// fails, in its order: NodeUnschedulable, NodeName, TaintToleration,
// NodeAffinity, NodePorts, NodeResourcesFit (which reports every resource
// that is short).
func Filter(pi *PodInfo, n *NodeInfo, reasons []string) []string {
	node := n.node
	if node.Spec.Unschedulable && !pi.toleratesUnsched {
		return append(reasons, ReasonNodeUnschedulable)
	}
	if pi.Pod.Spec.NodeName != "" && pi.Pod.Spec.NodeName != node.Name {
		return append(reasons, ReasonNodeName)
	}
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(pi.Pod.Spec.Tolerations, t) {
			return append(reasons, fmt.Sprintf(reasonTaintFormat, t.Key, t.Value))
		}
	}
	if ok, err := pi.requiredAffinity.Match(node); !ok || err != nil {
		return append(reasons, ReasonNodeAffinity)
	}
	for _, hp := range pi.HostPorts {
		if n.portConflict(hp) {
			return append(reasons, ReasonNodePorts)
		}
	}
	return fitsResources(pi, n, reasons)
}

func fitsResources(pi *PodInfo, n *NodeInfo, reasons []string) []string {
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
	return reasons
}
