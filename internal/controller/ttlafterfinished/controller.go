// Package ttlafterfinished deletes finished Jobs once their
// spec.ttlSecondsAfterFinished has passed, as Kubernetes' TTL-after-finished
// controller does. The Job goes with foreground propagation: its pods are
// deleted (by the garbage collector) before it.
package ttlafterfinished

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/controller/queue"
)

// Options tunes the controller. Zero values mean the defaults.
type Options struct {
	// Options are the worker count (default 5) and the logger.
	queue.Options
	// Clock defaults to the real clock.
	Clock clock.WithTicker
}

// Controller deletes finished Jobs whose TTL expired.
type Controller struct {
	client    kubernetes.Interface
	jobLister batchlisters.JobLister
	synced    cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	clock     clock.WithTicker
	workers   int
	log       *slog.Logger
}

// New wires the event handlers; the caller starts the informer factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Options = opts.Options.Defaulted(5)
	opts.Clock = cmp.Or[clock.WithTicker](opts.Clock, clock.RealClock{})
	jobs := factory.Batch().V1().Jobs()
	c := &Controller{
		client:    client,
		jobLister: jobs.Lister(),
		synced:    jobs.Informer().HasSynced,
		queue:     queue.New[string]("ttl_jobs_to_delete", opts.Clock),
		clock:     opts.Clock,
		workers:   opts.Workers,
		log:       opts.Logger.With("controller", "ttl-after-finished"),
	}
	_, _ = jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	return c
}

// Run waits for the cache, then runs Options.Workers goroutines until ctx
// is done.
func (c *Controller) Run(ctx context.Context) {
	queue.RunWorkers(ctx, []cache.InformerSynced{c.synced},
		queue.Worker[string]{Queue: c.queue, Sync: c.sync, Workers: c.workers, Log: c.log})
}

func (c *Controller) enqueue(obj any) {
	job, ok := obj.(*batchv1.Job)
	if !ok || !needsCleanup(job) {
		return
	}
	queue.Enqueue(c.queue, job)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	job, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if expired, err := c.processTTL(key, job); err != nil || !expired {
		return err
	}
	// The cache may be stale (the TTL changed, the Job restarted): check the
	// stored Job before deleting it.
	fresh, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("job %s: %w", key, err)
	}
	if expired, err := c.processTTL(key, fresh); err != nil || !expired {
		return err
	}
	policy := metav1.DeletePropagationForeground
	err = c.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID, ResourceVersion: &fresh.ResourceVersion},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting job %s: %w", key, err)
	}
	c.log.Info("deleted finished job after its TTL", "job", key)
	return nil
}

// processTTL reports whether the Job's TTL has expired; when it has not,
// the Job is requeued for the moment it does.
func (c *Controller) processTTL(key string, job *batchv1.Job) (bool, error) {
	if !needsCleanup(job) {
		return false, nil
	}
	at, err := expireAt(job)
	if err != nil {
		return false, fmt.Errorf("job %s: %w", key, err)
	}
	if left := at.Sub(c.clock.Now()); left > 0 {
		c.queue.AddAfter(key, left)
		return false, nil
	}
	return true, nil
}

func needsCleanup(job *batchv1.Job) bool {
	return job.Spec.TTLSecondsAfterFinished != nil && job.DeletionTimestamp == nil && finishTime(job) != nil
}

// finishTime is when the Job's Complete or Failed condition became true.
func finishTime(job *batchv1.Job) *metav1.Time {
	for i := range job.Status.Conditions {
		c := &job.Status.Conditions[i]
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return &c.LastTransitionTime
		}
	}
	return nil
}

func expireAt(job *batchv1.Job) (time.Time, error) {
	t := finishTime(job)
	if t == nil || t.IsZero() {
		return time.Time{}, fmt.Errorf("finished without a finish time")
	}
	return t.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second), nil
}
