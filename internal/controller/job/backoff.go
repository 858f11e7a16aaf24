package job

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// backoffRecord counts a Job's pod failures since its last success; pods
// are replaced only after a delay that doubles with each of them.
type backoffRecord struct {
	failuresAfterLastSuccess int32
	lastFailureTime          time.Time
}

// next folds the newly finished pods (not counted in the status yet) into
// the record.
func (r backoffRecord) next(succeeded, failed []*corev1.Pod) backoffRecord {
	byFinish := func(a, b *corev1.Pod) int { return finishedTime(a).Compare(finishedTime(b)) }
	failed = slices.SortedFunc(slices.Values(failed), byFinish)
	if len(succeeded) == 0 {
		if len(failed) == 0 {
			return r
		}
		return backoffRecord{
			failuresAfterLastSuccess: r.failuresAfterLastSuccess + int32(len(failed)),
			lastFailureTime:          finishedTime(failed[len(failed)-1]),
		}
	}
	lastSuccess := finishedTime(slices.MaxFunc(succeeded, byFinish))
	out := backoffRecord{}
	for i := len(failed) - 1; i >= 0; i-- {
		t := finishedTime(failed[i])
		if !t.After(lastSuccess) {
			break
		}
		if out.failuresAfterLastSuccess == 0 {
			out.lastFailureTime = t
		}
		out.failuresAfterLastSuccess++
	}
	return out
}

// remaining is how long pod creation still waits at now: base doubled for
// each failure after the first, capped at limit, counted from the last one.
func (r backoffRecord) remaining(now time.Time, base, limit time.Duration) time.Duration {
	if r.failuresAfterLastSuccess == 0 {
		return 0
	}
	d := base
	for i := int32(1); i < r.failuresAfterLastSuccess && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	if elapsed := now.Sub(r.lastFailureTime); elapsed < d {
		return d - elapsed
	}
	return 0
}

func (c *Controller) backoffRecord(key string) backoffRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backoff[key]
}

func (c *Controller) setBackoffRecord(key string, r backoffRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.failuresAfterLastSuccess == 0 {
		delete(c.backoff, key)
		return
	}
	c.backoff[key] = r
}
