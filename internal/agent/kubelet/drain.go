package kubelet

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff.dev/skiff/internal/agent/drain"
)

const (
	// maxDrainWait bounds how long a deleted pod waits for the service
	// proxies, whatever its grace period.
	maxDrainWait = 20 * time.Second
	// drainStopReserve is the part of the grace period always left to
	// the containers' own graceful stop.
	drainStopReserve = 2 * time.Second
	// drainPoll is how often a waiting pod looks again.
	drainPoll = 50 * time.Millisecond
)

// drainDecider says whether a deleted pod may still get new connections
// (drain.Watcher).
type drainDecider interface {
	Decide(pod *corev1.Pod) drain.Decision
}

// drainBudget is how long a deleted pod with grace seconds to stop may
// wait for the service proxies: min(grace-2s, 20s), never negative.
func drainBudget(grace int64) time.Duration {
	return max(min(time.Duration(grace)*time.Second-drainStopReserve, maxDrainWait), 0)
}

// drainStep is what one sync of a deleted pod does about draining: wait
// (look again after the returned duration) or stop the containers with
// the grace seconds left.
type drainStep struct {
	wait  time.Duration
	grace int64
}

// decideDrain: a pod that has waited less than its budget and that the
// decider holds waits; otherwise it is stopped with what is left of its
// grace period (at least minGracePeriod).
func decideDrain(grace int64, waited time.Duration, hold drain.Decision) drainStep {
	if hold.Wait && waited < drainBudget(grace) {
		return drainStep{wait: min(drainPoll, drainBudget(grace)-waited)}
	}
	if waited <= 0 {
		return drainStep{grace: grace}
	}
	left := grace - int64((waited+time.Second-1)/time.Second)
	return drainStep{grace: max(left, min(grace, minGracePeriod))}
}

// drainStarts remembers when the kubelet first saw each pod deleted.
type drainStarts struct {
	mu sync.Mutex
	m  map[types.UID]time.Time
}

func newDrainStarts() *drainStarts { return &drainStarts{m: map[types.UID]time.Time{}} }

// since is how long ago uid was first seen deleted (0 the first time);
// first reports the first call.
func (d *drainStarts) since(uid types.UID, now time.Time) (time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.m[uid]
	if !ok {
		d.m[uid] = now
		return 0, true
	}
	return now.Sub(t), false
}

func (d *drainStarts) forget(uid types.UID) {
	d.mu.Lock()
	delete(d.m, uid)
	d.mu.Unlock()
}
