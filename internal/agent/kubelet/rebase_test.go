package kubelet

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRebase(t *testing.T) {
	first := metav1.NewTime(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	later := metav1.NewTime(first.Add(time.Second))
	cond := func(typ corev1.PodConditionType, status corev1.ConditionStatus, at metav1.Time) corev1.PodCondition {
		return corev1.PodCondition{Type: typ, Status: status, LastTransitionTime: at}
	}
	tests := []struct {
		name        string
		ours, fresh corev1.PodStatus
		want        corev1.PodStatus
	}{
		{
			name: "a status computed from a pod without ours keeps what we wrote first",
			ours: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &later,
				Conditions: []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionTrue, later), cond(corev1.PodScheduled, corev1.ConditionTrue, later)}},
			fresh: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &first, QOSClass: corev1.PodQOSBurstable,
				Conditions: []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionTrue, first), cond(corev1.PodScheduled, corev1.ConditionTrue, first)}},
			want: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &first, QOSClass: corev1.PodQOSBurstable,
				Conditions: []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionTrue, first), cond(corev1.PodScheduled, corev1.ConditionTrue, first)}},
		},
		{
			name: "a condition that changed status gets its new transition time",
			ours: corev1.PodStatus{StartTime: &later,
				Conditions: []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionFalse, later)}},
			fresh: corev1.PodStatus{StartTime: &first,
				Conditions: []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionTrue, first)}},
			want: corev1.PodStatus{StartTime: &first,
				Conditions: []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionFalse, later)}},
		},
		{
			name: "a condition others own comes from the newer pod",
			ours: corev1.PodStatus{StartTime: &first,
				Conditions: []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionTrue, first)}},
			fresh: corev1.PodStatus{StartTime: &first,
				Conditions: []corev1.PodCondition{cond(corev1.DisruptionTarget, corev1.ConditionTrue, later)}},
			want: corev1.PodStatus{StartTime: &first,
				Conditions: []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionTrue, first), cond(corev1.DisruptionTarget, corev1.ConditionTrue, later)}},
		},
		{
			name:  "the generation observed is the one the status was computed from",
			ours:  corev1.PodStatus{StartTime: &first, ObservedGeneration: 2},
			fresh: corev1.PodStatus{StartTime: &first, ObservedGeneration: 1},
			want:  corev1.PodStatus{StartTime: &first, ObservedGeneration: 2},
		},
		{
			name:  "but never lower than the one already written",
			ours:  corev1.PodStatus{StartTime: &first, ObservedGeneration: 2},
			fresh: corev1.PodStatus{StartTime: &first, ObservedGeneration: 3},
			want:  corev1.PodStatus{StartTime: &first, ObservedGeneration: 3},
		},
		{
			name:  "no start time yet: ours",
			ours:  corev1.PodStatus{StartTime: &later},
			fresh: corev1.PodStatus{},
			want:  corev1.PodStatus{StartTime: &later},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rebase(tt.ours, tt.fresh); !apiequality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("rebase:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
