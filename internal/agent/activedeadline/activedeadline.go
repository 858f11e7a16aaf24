// Package activedeadline decides when a pod's spec.activeDeadlineSeconds
// has passed on its node, and names the reason and message the kubelet
// fails such a pod with. The kubelet and the simulated (hollow) nodes
// share it, so that both end a pod at the same moment and in the same
// words.
package activedeadline

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The pod status reason and message (and the pod event's) of a pod failed
// for its active deadline, as the kubelet writes them.
const (
	Reason  = "DeadlineExceeded"
	Message = "Pod was active on the node longer than the specified deadline"
)

// Left returns how long pod may still run before its active deadline,
// counted from start (the pod's status.startTime on the node), and whether
// the deadline has passed at now: a pod has run too long once it has run
// for activeDeadlineSeconds, as in the kubelet. A pod without a deadline,
// or not started (zero start), has none: (0, false).
func Left(spec *corev1.PodSpec, start, now time.Time) (time.Duration, bool) {
	if spec.ActiveDeadlineSeconds == nil || start.IsZero() {
		return 0, false
	}
	left := start.Add(time.Duration(*spec.ActiveDeadlineSeconds) * time.Second).Sub(now)
	return left, left <= 0
}
