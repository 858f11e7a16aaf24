package kubelet

import (
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// backOff is the kubelet's per-key exponential back-off: the first retry
// is free, each further one waits base, then twice as long up to max; a
// key whose last retry is more than 2×max before the failure starts again
// at base (a container that ran for 10 minutes restarts at once).
type backOff struct {
	clock     clock.Clock
	base, max time.Duration

	mu      sync.Mutex
	entries map[string]*backOffEntry
}

type backOffEntry struct {
	delay time.Duration
	last  time.Time
	// failedAt and message of the last failure recorded with fail.
	failedAt time.Time
	message  string
}

func newBackOff(clk clock.Clock, base, max time.Duration) *backOff {
	return &backOff{clock: clk, base: base, max: max, entries: map[string]*backOffEntry{}}
}

// inBackOff reports whether a retry for key after a failure at failedAt
// must still wait, and how long.
func (b *backOff) inBackOff(key string, failedAt time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[key]
	if e == nil {
		return false, 0
	}
	left := e.delay - b.clock.Since(failedAt)
	if left > 0 {
		return true, left
	}
	return false, 0
}

// next records a retry for key after a failure at failedAt.
func (b *backOff) next(key string, failedAt time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[key]
	switch {
	case e == nil || failedAt.Sub(e.last) > 2*b.max:
		e = &backOffEntry{delay: b.base}
		b.entries[key] = e
	default:
		e.delay = min(2*e.delay, b.max)
	}
	e.last = b.clock.Now()
}

// get is the current delay of key (0 when none).
func (b *backOff) get(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.entries[key]; e != nil {
		return e.delay
	}
	return 0
}

// forgetPrefix drops the keys starting with prefix (a pod that is gone).
func (b *backOff) forgetPrefix(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if strings.HasPrefix(k, prefix) {
			delete(b.entries, k)
		}
	}
}

// fail records a failure of key now (an image pull, a container that
// could not start): the next attempt waits for the back-off.
func (b *backOff) fail(key, message string) {
	now := b.clock.Now()
	b.next(key, now)
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[key]
	e.failedAt, e.message = now, message
}

// waiting reports whether key failed less than its back-off ago, how long
// is left, and the failure's message.
func (b *backOff) waiting(key string) (bool, time.Duration, string) {
	b.mu.Lock()
	var failedAt time.Time
	var message string
	if e := b.entries[key]; e != nil {
		failedAt, message = e.failedAt, e.message
	}
	b.mu.Unlock()
	if failedAt.IsZero() {
		return false, 0, ""
	}
	in, left := b.inBackOff(key, failedAt)
	return in, left, message
}

// forget drops key (a success).
func (b *backOff) forget(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.entries, key)
}
