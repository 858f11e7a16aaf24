// Package podutil answers the questions about a pod that workload
// controllers share: is it active, is it terminating, is it ready, has it
// been ready long enough to count as available.
package podutil

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// ReadyCondition returns the pod's Ready condition, or nil when it has none.
func ReadyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// IsReady reports whether the pod's Ready condition is True.
func IsReady(pod *corev1.Pod) bool {
	c := ReadyCondition(pod)
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsAvailable reports whether the pod has been ready for at least
// minReadySeconds at now. With minReadySeconds zero a ready pod is
// available at once.
func IsAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := ReadyCondition(pod)
	if c == nil || c.Status != corev1.ConditionTrue {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	min := time.Duration(minReadySeconds) * time.Second
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(min).Before(now)
}

// IsTerminal reports whether the pod has finished for good (Succeeded or
// Failed).
func IsTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// IsActive reports whether the pod counts towards a controller's replicas:
// not finished and not being deleted.
func IsActive(pod *corev1.Pod) bool {
	return !IsTerminal(pod) && pod.DeletionTimestamp == nil
}

// IsTerminating reports whether the pod is being deleted but has not
// finished yet.
func IsTerminating(pod *corev1.Pod) bool {
	return !IsTerminal(pod) && pod.DeletionTimestamp != nil
}

// MaxRestarts returns the highest restart count among the pod's containers.
func MaxRestarts(pod *corev1.Pod) int32 {
	var n int32
	for _, s := range pod.Status.ContainerStatuses {
		n = max(n, s.RestartCount)
	}
	return n
}

// Key returns the pod's namespace/name key, as the informers' caches and
// work queues name it.
func Key(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }
