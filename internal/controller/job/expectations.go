package job

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"
)

// expectationsTTL is how long the controller waits for the informer to
// show its own writes before it trusts the cache again anyway.
const expectationsTTL = 5 * time.Minute

// expectations remembers, per Job, the pod creations and deletions the
// controller issued that the pod informer has not shown yet, and the pods
// whose tracking finalizer it removed (and counted) but that the cache still
// shows with the finalizer. Until they are seen, a sync would act on a stale
// view: create too many pods or count a pod twice.
type expectations struct {
	clock clock.Clock
	mu    sync.Mutex
	m     map[string]*expectation
}

type expectation struct {
	adds, dels   int
	at           time.Time
	rmFinalizers sets.Set[string]
}

func newExpectations(c clock.Clock) *expectations {
	return &expectations{clock: c, m: map[string]*expectation{}}
}

func (e *expectations) get(key string) *expectation {
	x, ok := e.m[key]
	if !ok {
		x = &expectation{rmFinalizers: sets.New[string]()}
		e.m[key] = x
	}
	return x
}

// satisfied reports whether every creation and deletion issued for key was
// observed (or so long ago that the cache is trusted regardless).
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok || (x.adds <= 0 && x.dels <= 0) {
		return true
	}
	return e.clock.Since(x.at) > expectationsTTL
}

func (e *expectations) expect(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(key)
	x.adds, x.dels, x.at = max(x.adds, 0)+adds, max(x.dels, 0)+dels, e.clock.Now()
}

func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.adds--
	}
}

func (e *expectations) deletionObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.dels--
	}
}

func (e *expectations) expectFinalizersRemoved(key string, uids []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).rmFinalizers.Insert(uids...)
}

func (e *expectations) finalizerRemovalObserved(key, uid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.rmFinalizers.Delete(uid)
	}
}

// expectedRemovals returns a copy of the UIDs whose finalizer removal is
// not observed yet.
func (e *expectations) expectedRemovals(key string) sets.Set[string] {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		return x.rmFinalizers.Clone()
	}
	return sets.New[string]()
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
