// Package nodestatus holds the node status logic the node agents share:
// the kubelet (internal/agent/kubelet) and the hollow nodes
// (internal/agent/hollow) both report the kubelet's node conditions, keep
// the transition and heartbeat times of conditions that did not change,
// keep the conditions and status fields others own, and bump the
// heartbeat of their own conditions when they write the status.
package nodestatus

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node condition reasons and messages, worded as the kubelet's.
const (
	ReasonKubeletReady      = "KubeletReady"
	MessageKubeletReady     = "kubelet is posting ready status"
	ReasonSufficientMemory  = "KubeletHasSufficientMemory"
	MessageSufficientMemory = "kubelet has sufficient memory available"
	ReasonNoDiskPressure    = "KubeletHasNoDiskPressure"
	MessageNoDiskPressure   = "kubelet has no disk pressure"
	ReasonSufficientPID     = "KubeletHasSufficientPID"
	MessageSufficientPID    = "kubelet has sufficient PID available"
)

// Ready is the NodeReady condition of a ready node, without times.
func Ready() corev1.NodeCondition {
	return corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: ReasonKubeletReady, Message: MessageKubeletReady}
}

// Conditions are the conditions a node agent owns, without times:
// MemoryPressure, DiskPressure and PIDPressure (all False), then ready.
func Conditions(ready corev1.NodeCondition) []corev1.NodeCondition {
	return []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: ReasonSufficientMemory, Message: MessageSufficientMemory},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: ReasonNoDiskPressure, Message: MessageNoDiskPressure},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: ReasonSufficientPID, Message: MessageSufficientPID},
		ready,
	}
}

// Owned reports whether a node agent owns conditions of type t:
// MemoryPressure, DiskPressure, PIDPressure and Ready.
func Owned(t corev1.NodeConditionType) bool {
	switch t {
	case corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure, corev1.NodeReady:
		return true
	}
	return false
}

// Merge sets the times of the conditions in want (changed in place) and
// returns them followed by the conditions of old that others own. A
// condition of want takes its heartbeat time from the condition of its
// type in old, and its transition time too when its status is unchanged;
// without one, both times are now.
func Merge(want, old []corev1.NodeCondition, now metav1.Time) []corev1.NodeCondition {
	for i := range want {
		want[i].LastHeartbeatTime, want[i].LastTransitionTime = now, now
		for _, o := range old {
			if o.Type != want[i].Type {
				continue
			}
			want[i].LastHeartbeatTime = o.LastHeartbeatTime
			if o.Status == want[i].Status {
				want[i].LastTransitionTime = o.LastTransitionTime
			}
		}
	}
	for _, o := range old {
		if !Owned(o.Type) {
			want = append(want, o)
		}
	}
	return want
}

// SetHeartbeat sets the heartbeat time of the conditions of st that a
// node agent owns to now.
func SetHeartbeat(st *corev1.NodeStatus, now metav1.Time) {
	for i := range st.Conditions {
		if Owned(st.Conditions[i].Type) {
			st.Conditions[i].LastHeartbeatTime = now
		}
	}
}

// KeepUnowned copies into st the fields of old that a node agent does not
// write: images, volumes in use and attached, config, runtime handlers
// and features.
func KeepUnowned(st, old *corev1.NodeStatus) {
	st.Images = old.Images
	st.VolumesInUse = old.VolumesInUse
	st.VolumesAttached = old.VolumesAttached
	st.Config = old.Config
	st.RuntimeHandlers = old.RuntimeHandlers
	st.Features = old.Features
}
