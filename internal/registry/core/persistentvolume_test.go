package core

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPhaseTransitionTime(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Hour))
	now := metav1.NewTime(t0.Add(2 * time.Hour))
	status := func(phase corev1.PersistentVolumePhase, at *metav1.Time) corev1.PersistentVolumeStatus {
		return corev1.PersistentVolumeStatus{Phase: phase, LastPhaseTransitionTime: at}
	}
	tests := []struct {
		name        string
		status, old corev1.PersistentVolumeStatus
		want        *metav1.Time
	}{
		{"same phase, none sent: kept", status(corev1.VolumeBound, nil), status(corev1.VolumeBound, &t0), &t0},
		{"same phase, one sent: taken", status(corev1.VolumeBound, &t1), status(corev1.VolumeBound, &t0), &t1},
		{"new phase, none sent: now", status(corev1.VolumeReleased, nil), status(corev1.VolumeBound, &t0), &now},
		{"new phase, old time sent: now", status(corev1.VolumeReleased, &t0), status(corev1.VolumeBound, &t0), &now},
		{"new phase, new time sent: taken", status(corev1.VolumeReleased, &t1), status(corev1.VolumeBound, &t0), &t1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PhaseTransitionTime(tt.status, tt.old, now)
			if got == nil || !got.Equal(tt.want) {
				t.Fatalf("PhaseTransitionTime = %v, want %v", got, tt.want)
			}
		})
	}
}
