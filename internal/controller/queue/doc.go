// Package queue is the workqueue plumbing the controllers share: workers
// that take keys off a rate-limited queue and sync them (Forget on success,
// AddRateLimited on error, AddAfter when a sync asks to look again later),
// the RunWorkers that waits for the caches and stops the workers with the
// context, and the small helpers of the informer event handlers (Enqueue,
// EnqueueAfter, and Deleted for a delete event's tombstone).
//
// A failed sync is logged by the Worker, in one scheme for every
// controller: the message "sync failed" with "key", "err" and "retry"
// attributes, on the controller's logger (which carries "controller"). An
// error wrapped with Terminal is logged at error level and not retried; a
// 409 Conflict, or an error wrapped with Retry, is an ordinary retry logged
// at debug level; any other error is logged at warning level and retried
// with back-off.
//
// Every work queue of the process reports client-go's workqueue metrics
// (workqueue_depth, workqueue_adds_total, workqueue_queue_duration_seconds,
// workqueue_work_duration_seconds, workqueue_retries_total, ... by "name")
// into component-base's legacy registry, which the API server serves on
// /metrics: importing this package installs that metrics provider.
package queue
