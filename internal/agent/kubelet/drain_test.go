package kubelet

import (
	"testing"
	"time"

	"skiff.dev/skiff/internal/agent/drain"
)

func TestDecideDrain(t *testing.T) {
	hold := drain.Decision{Wait: true, Reason: "still an endpoint"}
	free := drain.Decision{}
	for _, tc := range []struct {
		name   string
		grace  int64
		waited time.Duration
		hold   drain.Decision
		want   drainStep
	}{
		{"routable: wait", 30, 0, hold, drainStep{wait: drainPoll}},
		{"routable near the budget: wait only up to it", 30, maxDrainWait - 10*time.Millisecond, hold, drainStep{wait: 10 * time.Millisecond}},
		{"routable past the budget: stop with what is left", 30, maxDrainWait, hold, drainStep{grace: 10}},
		{"short grace: the budget leaves 2s to stop", 5, 3 * time.Second, hold, drainStep{grace: 2}},
		{"drained at once: the whole grace period", 30, 0, free, drainStep{grace: 30}},
		{"drained after a wait: the rest, rounded down", 30, 1500 * time.Millisecond, free, drainStep{grace: 28}},
		{"grace 0 (force): no wait", 0, 0, hold, drainStep{grace: 0}},
		{"grace 2: no budget", 2, 0, hold, drainStep{grace: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideDrain(tc.grace, tc.waited, tc.hold); got != tc.want {
				t.Fatalf("decideDrain(%d, %v, wait=%v) = %+v, want %+v", tc.grace, tc.waited, tc.hold.Wait, got, tc.want)
			}
		})
	}
}

func TestDrainBudget(t *testing.T) {
	for grace, want := range map[int64]time.Duration{0: 0, 1: 0, 2: 0, 3: time.Second, 10: 8 * time.Second, 30: maxDrainWait, 600: maxDrainWait} {
		if got := drainBudget(grace); got != want {
			t.Errorf("drainBudget(%d) = %v, want %v", grace, got, want)
		}
	}
}
