package podutil

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func readyPod(status corev1.ConditionStatus, since time.Time) *corev1.Pod {
	return &corev1.Pod{Status: corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.NewTime(since)},
		},
	}}
}

func TestIsAvailable(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		pod      *corev1.Pod
		minReady int32
		want     bool
	}{
		{"no conditions", &corev1.Pod{}, 0, false},
		{"not ready", readyPod(corev1.ConditionFalse, now.Add(-time.Hour)), 0, false},
		{"ready, no minReadySeconds", readyPod(corev1.ConditionTrue, now), 0, true},
		{"ready long enough", readyPod(corev1.ConditionTrue, now.Add(-11*time.Second)), 10, true},
		{"ready exactly minReadySeconds", readyPod(corev1.ConditionTrue, now.Add(-10*time.Second)), 10, false},
		{"ready too briefly", readyPod(corev1.ConditionTrue, now.Add(-5*time.Second)), 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsAvailable(tt.pod, tt.minReady, now); got != tt.want {
				t.Errorf("IsAvailable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestActiveAndTerminating(t *testing.T) {
	deleted := metav1.Now()
	tests := []struct {
		name                string
		phase               corev1.PodPhase
		deleting            bool
		active, terminating bool
	}{
		{"pending", corev1.PodPending, false, true, false},
		{"running", corev1.PodRunning, false, true, false},
		{"running, deleting", corev1.PodRunning, true, false, true},
		{"succeeded", corev1.PodSucceeded, false, false, false},
		{"failed, deleting", corev1.PodFailed, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &corev1.Pod{Status: corev1.PodStatus{Phase: tt.phase}}
			if tt.deleting {
				p.DeletionTimestamp = &deleted
			}
			if IsActive(p) != tt.active || IsTerminating(p) != tt.terminating {
				t.Errorf("active=%v terminating=%v, want %v %v", IsActive(p), IsTerminating(p), tt.active, tt.terminating)
			}
		})
	}
}
