package plugins

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// reasonTaintFormat is TaintToleration's reason, with the taint's key and
// value.
const reasonTaintFormat = "node(s) had untolerated taint {%s: %s}"

// TaintToleration filters out nodes with a NoSchedule or NoExecute taint the
// pod does not tolerate, and scores nodes with fewer untolerated
// PreferNoSchedule taints higher.
type TaintToleration struct{}

// Name returns kube-scheduler's name of the plugin.
func (TaintToleration) Name() string { return "TaintToleration" }

// Filter fails a node on its first untolerated NoSchedule or NoExecute
// taint, naming it.
func (TaintToleration) Filter(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	taints := n.Node().Spec.Taints
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(pi.Pod.Spec.Tolerations, t) {
			return framework.NewStatus(framework.Unschedulable, fmt.Sprintf(reasonTaintFormat, t.Key, t.Value))
		}
	}
	return nil
}

// PreScore skips Score when no feasible node has a PreferNoSchedule taint:
// every node would score the same.
func (TaintToleration) PreScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, feasible []*framework.NodeInfo) *framework.Status {
	for _, n := range feasible {
		for i := range n.Node().Spec.Taints {
			if n.Node().Spec.Taints[i].Effect == corev1.TaintEffectPreferNoSchedule {
				return nil
			}
		}
	}
	return statusSkip
}

// Score counts the node's PreferNoSchedule taints the pod does not
// tolerate; NormalizeScores turns fewer into higher.
func (TaintToleration) Score(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, n *framework.NodeInfo) (int64, *framework.Status) {
	var c int64
	taints := n.Node().Spec.Taints
	for i := range taints {
		t := &taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule && !tolerates(pi.Pod.Spec.Tolerations, t) {
			c++
		}
	}
	return c, nil
}

// NormalizeScores scores the node with the most untolerated taints 0 and
// one without any MaxNodeScore.
func (TaintToleration) NormalizeScores(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, scores []int64) *framework.Status {
	normaliseInverse(scores)
	return nil
}

// Tolerations with the Lt and Gt operators (numeric taint values) are honoured
// when the API server accepted them.
const comparisonOperators = true

// tolerates reports whether one of tolerations tolerates taint. Only a
// toleration whose effect is empty or the taint's can, so passing all of a
// pod's tolerations is right for a taint of any effect.
func tolerates(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(logr.Discard(), taint, comparisonOperators) {
			return true
		}
	}
	return false
}
