package queue

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Worker takes keys off one queue and syncs them.
type Worker struct {
	// Queue holds the keys to sync.
	Queue workqueue.TypedRateLimitingInterface[string]
	// Sync reconciles the object a key names. An error requeues the key
	// with back-off; success forgets its back-off. Set Sync or SyncAfter.
	Sync func(ctx context.Context, key string) error
	// SyncAfter is Sync for a controller that also asks to look at a key
	// again later: on success the back-off is forgotten and, when after is
	// positive, the key is added back after that long.
	SyncAfter func(ctx context.Context, key string) (after time.Duration, err error)
	// Failed, when set, is told of a failed sync before the key is requeued
	// with back-off; the controller logs it there.
	Failed func(key string, err error)
}

// ProcessNext takes the next key off the queue, syncs it, requeues or
// forgets it, and marks it done. It returns false once the queue is shut
// down and empty.
func (w Worker) ProcessNext(ctx context.Context) bool {
	key, quit := w.Queue.Get()
	if quit {
		return false
	}
	defer w.Queue.Done(key)
	var after time.Duration
	var err error
	if w.SyncAfter != nil {
		after, err = w.SyncAfter(ctx, key)
	} else {
		err = w.Sync(ctx, key)
	}
	if err != nil {
		if w.Failed != nil {
			w.Failed(key, err)
		}
		w.Queue.AddRateLimited(key)
		return true
	}
	w.Queue.Forget(key)
	if after > 0 {
		w.Queue.AddAfter(key, after)
	}
	return true
}

// Run processes keys until the queue is shut down.
func (w Worker) Run(ctx context.Context) {
	for w.ProcessNext(ctx) {
	}
}

// RunWorkers waits for the informers' caches, then runs n goroutines of w
// until ctx is done; it then shuts the queue down and waits for them to
// return. The queue is shut down as well when ctx ends before the caches
// sync. n below one starts no worker.
func RunWorkers(ctx context.Context, synced []cache.InformerSynced, n int, w Worker) {
	defer w.Queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { wait.UntilWithContext(ctx, w.Run, time.Second) })
	}
	<-ctx.Done()
	w.Queue.ShutDown()
	wg.Wait()
}

// Enqueue adds the namespace/name key of obj to q; a delete event's
// tombstone gives the key of the object it holds. An object without a key
// is ignored.
func Enqueue(q workqueue.TypedInterface[string], obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		q.Add(key)
	}
}

// EnqueueAfter adds the namespace/name key of obj to q once after has
// passed. An object without a key is ignored.
func EnqueueAfter(q workqueue.TypedDelayingInterface[string], obj any, after time.Duration) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		q.AddAfter(key, after)
	}
}

// Deleted returns the object of a delete event as a T: obj itself, or the
// object a cache.DeletedFinalStateUnknown tombstone holds when the informer
// missed the deletion. It reports false when that is not a T.
func Deleted[T any](obj any) (T, bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	t, ok := obj.(T)
	return t, ok
}
