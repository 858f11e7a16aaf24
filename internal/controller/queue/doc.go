// Package queue is the workqueue plumbing the controllers share: workers
// that take namespace/name keys off a rate-limited queue and sync them
// (Forget on success, AddRateLimited on error, AddAfter when a sync asks to
// look again later), the Run that waits for the caches and stops the workers
// with the context, and the small helpers of the informer event handlers
// (Enqueue, EnqueueAfter, and Deleted for a delete event's tombstone).
//
// What a controller logs stays its own: a Worker reports a failed sync to
// its Failed function, which the controller writes with its own message and
// attributes.
package queue
