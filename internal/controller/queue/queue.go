package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	// The workqueue_* metrics of every queue, in the process's
	// component-base registry (served on the API server's /metrics): the
	// package installs its provider in client-go's workqueue when imported.
	_ "k8s.io/component-base/metrics/prometheus/workqueue"
	"k8s.io/utils/clock"
)

// Options are what every queue-driven controller's Options embed: how many
// keys it syncs at once and where it logs.
type Options struct {
	// Workers is how many keys are synced at once; zero means the
	// controller's default.
	Workers int
	// Logger receives the controller's log; nil means slog.Default().
	Logger *slog.Logger
}

// Defaulted is o with its zero values filled: workers goroutines and
// slog.Default().
func (o Options) Defaulted(workers int) Options {
	o.Workers = cmp.Or(o.Workers, workers)
	o.Logger = cmp.Or(o.Logger, slog.Default())
	return o
}

// Worker takes keys off one queue and syncs them.
type Worker[K comparable] struct {
	// Queue holds the keys to sync.
	Queue workqueue.TypedRateLimitingInterface[K]
	// Sync reconciles the object a key names. An error requeues the key
	// with back-off (unless it is Terminal); success forgets its back-off.
	// Set Sync or SyncAfter.
	Sync func(ctx context.Context, key K) error
	// SyncAfter is Sync for a controller that also asks to look at a key
	// again later: on success the back-off is forgotten and, when after is
	// positive, the key is added back after that long.
	SyncAfter func(ctx context.Context, key K) (after time.Duration, err error)
	// Workers is how many goroutines RunWorkers runs this worker in; below
	// one means one.
	Workers int
	// Log receives the failed syncs, with a "key" and an "err" attribute;
	// it carries the controller's own attributes ("controller"). Nil means
	// slog.Default().
	Log *slog.Logger
}

// kind is how the Worker treats an error a sync returns.
type kind int

const (
	terminal kind = iota + 1
	retry
)

// kindError marks an error as Terminal or Retry.
type kindError struct {
	err  error
	kind kind
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

func mark(err error, k kind) error {
	if err == nil {
		return nil
	}
	return &kindError{err: err, kind: k}
}

// isKind reports whether the outermost Terminal or Retry mark on err is k.
func isKind(err error, k kind) bool {
	var e *kindError
	return errors.As(err, &e) && e.kind == k
}

// Terminal wraps err as an error that retrying cannot fix: the Worker logs
// it at error level and forgets the key instead of requeueing it (as
// controller-runtime's reconcile.TerminalError). The key is synced again on
// its next event. Terminal(nil) is nil.
func Terminal(err error) error { return mark(err, terminal) }

// IsTerminal reports whether err, or an error it wraps, came from Terminal.
func IsTerminal(err error) bool { return isKind(err, terminal) }

// Retry wraps err as an ordinary, expected retry (the state is not there
// yet, not a failure): the Worker requeues the key with back-off and logs it
// at debug level only, as it does a 409 Conflict. Retry(nil) is nil.
func Retry(err error) error { return mark(err, retry) }

// isRetry reports whether err is an expected retry: one from Retry, or a
// 409 Conflict (a write raced with another; the next sync reads the new
// state).
func isRetry(err error) bool { return isKind(err, retry) || apierrors.IsConflict(err) }

func (w Worker[K]) log() *slog.Logger {
	if w.Log == nil {
		return slog.Default()
	}
	return w.Log
}

// ProcessNext takes the next key off the queue, syncs it, requeues or
// forgets it, and marks it done. It returns false once the queue is shut
// down and empty.
//
// A failed sync is logged once, as "sync failed" with the key and the error:
// at error level and forgotten when the error is Terminal; at debug level
// and requeued when it is a Retry, a 409 Conflict, or comes after ctx ended
// (the controller is stopping); otherwise at warning level and requeued with
// back-off.
func (w Worker[K]) ProcessNext(ctx context.Context) bool {
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
		log := w.log()
		attrs := []any{"key", fmt.Sprint(key), "err", err}
		switch {
		case IsTerminal(err):
			log.Error("sync failed", append(attrs, "retry", false)...)
			w.Queue.Forget(key)
			return true
		case isRetry(err) || ctx.Err() != nil:
			log.Debug("sync failed", append(attrs, "retry", true)...)
		default:
			log.Warn("sync failed", append(attrs, "retry", true)...)
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
func (w Worker[K]) Run(ctx context.Context) {
	for w.ProcessNext(ctx) {
	}
}

// RunWorkers waits for the informers' caches, then runs each worker in its
// Workers goroutines until ctx is done; it then shuts the queues down and
// waits for the goroutines to return. The queues are shut down as well when
// ctx ends before the caches sync. It logs "starting" and "stopped" through
// the first worker's Log.
func RunWorkers[K comparable](ctx context.Context, synced []cache.InformerSynced, workers ...Worker[K]) {
	defer utilruntime.HandleCrash()
	shutDown := func() {
		for _, w := range workers {
			w.Queue.ShutDown()
		}
	}
	defer shutDown()
	if len(workers) == 0 {
		return
	}
	log := workers[0].log()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	log.Info("starting", "workers", workers[0].count())
	defer log.Info("stopped")
	var wg sync.WaitGroup
	for _, w := range workers {
		for range w.count() {
			wg.Go(func() { wait.UntilWithContext(ctx, w.Run, time.Second) })
		}
	}
	<-ctx.Done()
	shutDown()
	wg.Wait()
}

func (w Worker[K]) count() int { return max(w.Workers, 1) }

// Enqueue adds the namespace/name key of obj to q; a delete event's
// tombstone gives the key of the object it holds. An object without a key
// is ignored.
func Enqueue(q workqueue.TypedInterface[string], obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		q.Add(key)
	}
}

// OnEvery is an event handler that calls fn with the object of every add,
// update (the new object) and delete (possibly a tombstone) event.
func OnEvery(fn func(obj any)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    fn,
		UpdateFunc: func(_, obj any) { fn(obj) },
		DeleteFunc: fn,
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

// New returns a controller's work queue named name (the name of its
// workqueue_* metrics: kube-controller-manager's queue name where the
// controller has a counterpart there), with client-go's
// default controller rate limiter (per-key exponential back-off from 5ms
// to 1000s, and 10 qps overall), telling the time by clk (nil means the
// real clock).
func New[K comparable](name string, clk clock.WithTicker) workqueue.TypedRateLimitingInterface[K] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[K](),
		workqueue.TypedRateLimitingQueueConfig[K]{Name: name, Clock: clk})
}
