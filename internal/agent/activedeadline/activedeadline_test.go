package activedeadline

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestLeft(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		deadline *int64
		start    time.Time
		now      time.Time
		left     time.Duration
		over     bool
	}{
		{name: "no deadline", start: start, now: start.Add(time.Hour)},
		{name: "not started", deadline: ptr.To(int64(5)), now: start.Add(time.Hour)},
		{name: "before the deadline", deadline: ptr.To(int64(5)), start: start, now: start.Add(2 * time.Second), left: 3 * time.Second},
		{name: "at the deadline", deadline: ptr.To(int64(5)), start: start, now: start.Add(5 * time.Second), over: true},
		{name: "after the deadline", deadline: ptr.To(int64(5)), start: start, now: start.Add(7 * time.Second), left: -2 * time.Second, over: true},
		{name: "deadline lowered below the time run", deadline: ptr.To(int64(1)), start: start, now: start.Add(time.Minute), left: -59 * time.Second, over: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			left, over := Left(&corev1.PodSpec{ActiveDeadlineSeconds: tt.deadline}, tt.start, tt.now)
			if left != tt.left || over != tt.over {
				t.Errorf("Left = %s, %v; want %s, %v", left, over, tt.left, tt.over)
			}
		})
	}
}
