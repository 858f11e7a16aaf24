package expectations

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"
)

// TTL is how long unfulfilled expectations hold a key back before the
// controller trusts its cache anyway (a watch event may be lost).
const TTL = 5 * time.Minute

// Expectations is safe for concurrent use.
type Expectations struct {
	clock clock.PassiveClock

	mu    sync.Mutex
	items map[string]*record
}

type record struct {
	// adds and dels are counted creations and deletions still to be seen.
	adds, dels int
	// deleting are the keys of objects whose deletion is still to be seen.
	deleting sets.Set[string]
	// finalizers are the UIDs whose finalizer removal is still to be seen.
	finalizers sets.Set[string]
	at         time.Time
}

// New returns empty expectations that tell the time by c (nil means the
// real clock).
func New(c clock.PassiveClock) *Expectations {
	if c == nil {
		c = clock.RealClock{}
	}
	return &Expectations{clock: c, items: map[string]*record{}}
}

func (e *Expectations) get(key string) *record {
	x, ok := e.items[key]
	if !ok {
		x = &record{deleting: sets.New[string](), finalizers: sets.New[string]()}
		e.items[key] = x
	}
	return x
}

// Satisfied reports whether the controller may act on key: every creation
// and deletion expected for it was observed, or the expectations were set
// more than TTL ago. Finalizer removals do not hold a key back; see
// FinalizerRemovals.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok || (x.adds <= 0 && x.dels <= 0 && x.deleting.Len() == 0) {
		return true
	}
	return e.clock.Since(x.at) > TTL
}

// ExpectCreations replaces the creations and deletions expected for key
// with n creations.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(key)
	x.adds, x.dels, x.deleting, x.at = n, 0, sets.New[string](), e.clock.Now()
}

// ExpectDeletions replaces the creations and deletions expected for key
// with the deletions of the objects with these keys.
func (e *Expectations) ExpectDeletions(key string, deleting []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(key)
	x.adds, x.dels, x.deleting, x.at = 0, 0, sets.New(deleting...), e.clock.Now()
}

// Raise adds adds creations and dels (counted) deletions to what is
// expected for key.
func (e *Expectations) Raise(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(key)
	x.adds, x.dels, x.at = x.adds+adds, x.dels+dels, e.clock.Now()
}

// CreationObserved strikes off one expected creation for key.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// DeletionObserved strikes off the deletion of the object objKey names, when
// ExpectDeletions expects it; otherwise one counted deletion (Raise).
func (e *Expectations) DeletionObserved(key, objKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	switch {
	case !ok:
	case x.deleting.Has(objKey):
		x.deleting.Delete(objKey)
	case x.dels > 0:
		x.dels--
	}
}

// ExpectFinalizersRemoved records that the finalizers of the objects with
// these UIDs were removed and that the cache may still show them.
func (e *Expectations) ExpectFinalizersRemoved(key string, uids []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).finalizers.Insert(uids...)
}

// FinalizerRemovalObserved strikes off the finalizer removal of uid.
func (e *Expectations) FinalizerRemovalObserved(key, uid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		x.finalizers.Delete(uid)
	}
}

// FinalizerRemovals returns a copy of the UIDs whose finalizer removal is
// not observed yet.
func (e *Expectations) FinalizerRemovals(key string) sets.Set[string] {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		return x.finalizers.Clone()
	}
	return sets.New[string]()
}

// Delete drops everything expected for key (its object is gone).
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}
