package replicaset

import (
	"sync"
	"time"
)

// expectationsTTL is how long unfulfilled expectations hold a ReplicaSet
// back before the controller syncs it anyway (a watch event may be lost).
const expectationsTTL = 5 * time.Minute

// expectations records, per ReplicaSet key, the pod creations and
// deletions that this controller has asked for and not yet observed
// through its informer. A sync that acts on a cache which does not yet
// show its own earlier actions would create or delete twice.
type expectations struct {
	now func() time.Time

	mu    sync.Mutex
	items map[string]*expectation
}

type expectation struct {
	adds      int
	deletions map[string]struct{} // pod keys whose deletion is pending
	at        time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{now: now, items: map[string]*expectation{}}
}

// satisfied reports whether the ReplicaSet may act: nothing pending, or
// the pending record is older than expectationsTTL.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletions) == 0 {
		return true
	}
	return e.now().Sub(x.at) > expectationsTTL
}

// expectCreations replaces the record for key with n pending creations.
func (e *expectations) expectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[key] = &expectation{adds: n, deletions: map[string]struct{}{}, at: e.now()}
}

// expectDeletions replaces the record for key with the given pod keys.
func (e *expectations) expectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := make(map[string]struct{}, len(podKeys))
	for _, k := range podKeys {
		d[k] = struct{}{}
	}
	e.items[key] = &expectation{deletions: d, at: e.now()}
}

// creationObserved lowers the pending creations for key by one.
func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// deletionObserved marks the pod's deletion as seen.
func (e *expectations) deletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		delete(x.deletions, podKey)
	}
}

// forget drops the record for key (the ReplicaSet is gone).
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}
