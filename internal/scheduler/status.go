package scheduler

import (
	"context"
	"encoding/json"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// setUnschedulable sets the pod's PodScheduled condition to False with the
// reason and message, through the status subresource, unless it already says
// so. The transition time moves only when the status changes.
func (s *Scheduler) setUnschedulable(ctx context.Context, pod *corev1.Pod, reason, message string) {
	cond := corev1.PodCondition{
		Type:               corev1.PodScheduled,
		Status:             corev1.ConditionFalse,
		Reason:             reason,
		Message:            message,
		LastTransitionTime: metav1.NewTime(s.opts.Clock.Now()),
	}
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.PodScheduled {
			continue
		}
		if c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message {
			return
		}
		if c.Status == cond.Status {
			cond.LastTransitionTime = c.LastTransitionTime
		}
	}
	patch, err := conditionPatch(pod.UID, cond)
	if err != nil {
		s.log.Error("building status patch", "pod", klogKey(pod), "err", err)
		return
	}
	_, err = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		s.log.Error("updating pod condition", "pod", klogKey(pod), "err", err)
	}
}

// conditionPatch is a strategic merge patch that replaces one condition
// (conditions merge on type), guarded by the pod's UID so that a pod of the
// same name created meanwhile is left alone.
func conditionPatch(uid types.UID, cond corev1.PodCondition) ([]byte, error) {
	return json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": uid},
		"status":   map[string]any{"conditions": []corev1.PodCondition{cond}},
	})
}

// nodeSchedulingChanged reports a node change that may let pending pods fit:
// allocatable, labels, taints, unschedulable. Heartbeats are not.
func nodeSchedulingChanged(oldNode, node *corev1.Node) bool {
	return oldNode.Spec.Unschedulable != node.Spec.Unschedulable ||
		!maps.Equal(oldNode.Labels, node.Labels) ||
		!apiequality.Semantic.DeepEqual(oldNode.Spec.Taints, node.Spec.Taints) ||
		!apiequality.Semantic.DeepEqual(oldNode.Status.Allocatable, node.Status.Allocatable)
}
