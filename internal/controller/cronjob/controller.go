package cronjob

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/controller/queue"
)

// Options tunes the controller. Zero values mean the defaults.
type Options struct {
	// Options are the worker count (default 5) and the logger.
	queue.Options
	// Clock decides when schedules are due. Default: the real clock.
	Clock clock.WithTicker
}

// Controller creates a CronJob's Jobs at its schedule's times and keeps
// its status and history.
type Controller struct {
	client    kubernetes.Interface
	recorder  record.EventRecorder
	clock     clock.WithTicker
	log       *slog.Logger
	cjLister  batchlisters.CronJobLister
	jobLister batchlisters.JobLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	workers   int
}

// New wires the controller's informer event handlers. It does not start
// anything; the caller starts the shared informer factory afterwards.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) *Controller {
	opts.Options = opts.Options.Defaulted(5)
	opts.Clock = cmp.Or[clock.WithTicker](opts.Clock, clock.RealClock{})
	cronJobs := factory.Batch().V1().CronJobs()
	jobs := factory.Batch().V1().Jobs()
	c := &Controller{
		client:    client,
		recorder:  recorder,
		clock:     opts.Clock,
		workers:   opts.Workers,
		log:       opts.Logger.With("controller", "cronjob"),
		cjLister:  cronJobs.Lister(),
		jobLister: jobs.Lister(),
		synced:    []cache.InformerSynced{cronJobs.Informer().HasSynced, jobs.Informer().HasSynced},
		queue:     queue.New[string]("cronjob", opts.Clock),
	}
	_, _ = cronJobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	_, _ = jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueueOwner,
		UpdateFunc: func(oldObj, obj any) {
			c.enqueueOwner(oldObj)
			c.enqueueOwner(obj)
		},
		DeleteFunc: c.enqueueOwner,
	})
	return c
}

// Run waits for the informers' caches, then runs Options.Workers
// goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context) {
	queue.RunWorkers(ctx, c.synced, queue.Worker[string]{
		Queue:   c.queue,
		Workers: c.workers,
		Log:     c.log,
		// A requeue time is always positive (just after the next
		// schedule time).
		SyncAfter: func(ctx context.Context, key string) (time.Duration, error) {
			after, err := c.sync(ctx, key)
			if err != nil || after == nil {
				return 0, err
			}
			return *after, nil
		},
	})
}

func (c *Controller) enqueue(obj any) { queue.Enqueue(c.queue, obj) }

// enqueueOwner enqueues the CronJob that controls a Job.
func (c *Controller) enqueueOwner(obj any) {
	job, ok := queue.Deleted[*batchv1.Job](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(job)
	if ref == nil || ref.Kind != "CronJob" || ref.APIVersion != batchv1.SchemeGroupVersion.String() {
		return
	}
	cj, err := c.cjLister.CronJobs(job.Namespace).Get(ref.Name)
	if err != nil || cj.UID != ref.UID {
		return
	}
	c.queue.Add(job.Namespace + "/" + ref.Name)
}
