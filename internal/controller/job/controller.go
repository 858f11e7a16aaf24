package job

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/controller/expectations"
	"skiff.dev/skiff/internal/controller/podutil"
	"skiff.dev/skiff/internal/controller/queue"
)

// Kubernetes' defaults for the delay before failed pods are replaced.
const (
	DefaultPodFailureBackOff    = 10 * time.Second
	DefaultMaxPodFailureBackOff = 6 * time.Minute
)

// Retry delays for a Job whose sync failed (API errors), as Kubernetes uses.
const (
	apiBackOff    = time.Second
	maxAPIBackOff = time.Minute
)

// maxPodCreateDeletePerSync bounds the pod creations or deletions one sync
// issues, so that a large Job does not starve the others.
const maxPodCreateDeletePerSync = 500

// maxUncountedPods bounds .status.uncountedTerminatedPods.
const maxUncountedPods = 500

// Options tunes the controller. Zero values mean Kubernetes' defaults.
type Options struct {
	// Options are the worker count (default 5) and the logger.
	queue.Options
	// PodFailureBackOff is the delay before the replacement of a failed pod;
	// it doubles with every further consecutive failure. Default 10s.
	PodFailureBackOff time.Duration
	// MaxPodFailureBackOff caps that delay. Default 6m.
	MaxPodFailureBackOff time.Duration
	// Clock drives deadlines and back-off. Default: the real clock.
	Clock clock.WithTicker
}

func (o *Options) setDefaults() {
	if o.PodFailureBackOff <= 0 {
		o.PodFailureBackOff = DefaultPodFailureBackOff
	}
	if o.MaxPodFailureBackOff <= 0 {
		o.MaxPodFailureBackOff = DefaultMaxPodFailureBackOff
	}
	if o.MaxPodFailureBackOff < o.PodFailureBackOff {
		o.MaxPodFailureBackOff = o.PodFailureBackOff
	}
	o.Options = o.Options.Defaulted(5)
	o.Clock = cmp.Or[clock.WithTicker](o.Clock, clock.RealClock{})
}

// Controller runs Jobs: it creates their pods, counts how they end and
// marks the Job Complete or Failed.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	opts     Options
	log      *slog.Logger
	clock    clock.WithTicker

	jobLister    batchlisters.JobLister
	podLister    corelisters.PodLister
	podIndexer   cache.Indexer
	cacheSynced  []cache.InformerSynced
	queue        workqueue.TypedRateLimitingInterface[string]
	orphanQueue  workqueue.TypedRateLimitingInterface[string]
	expectations *expectations.Expectations

	mu sync.Mutex
	// backoff holds each Job's pod failure back-off.
	backoff map[string]backoffRecord
	// replaced holds, per Job, the resourceVersions its status writes
	// replaced: a cached Job at one of them is stale, and its update event
	// is coming.
	replaced map[string]sets.Set[string]
}

// New wires the controller's informer event handlers. It does not start
// anything; the caller starts the shared informer factory afterwards.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) *Controller {
	opts.setDefaults()
	jobs := factory.Batch().V1().Jobs()
	pods := factory.Core().V1().Pods()
	c := &Controller{
		client:    client,
		recorder:  recorder,
		opts:      opts,
		log:       opts.Logger.With("controller", "job"),
		clock:     opts.Clock,
		jobLister: jobs.Lister(),
		podLister: pods.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](apiBackOff, maxAPIBackOff),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job", Clock: opts.Clock}),
		orphanQueue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](apiBackOff, maxAPIBackOff),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job_orphan_pod", Clock: opts.Clock}),
		expectations: expectations.New(opts.Clock),
		backoff:      map[string]backoffRecord{},
		replaced:     map[string]sets.Set[string]{},
	}
	podInformer := pods.Informer()
	c.podIndexer = podInformer.GetIndexer()
	c.cacheSynced = []cache.InformerSynced{jobs.Informer().HasSynced, podInformer.HasSynced}

	_, _ = jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueJob,
		UpdateFunc: func(_, obj any) { c.enqueueJob(obj) },
		DeleteFunc: c.deleteJob,
	})
	_, _ = podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.onPodAdd,
		UpdateFunc: c.onPodUpdate,
		DeleteFunc: c.onPodDelete,
	})
	return c
}

// Run waits for the informers' caches, then runs Options.Workers
// goroutines over the Job queue and one over the orphan pods until ctx is
// done.
func (c *Controller) Run(ctx context.Context) {
	queue.RunWorkers(ctx, c.cacheSynced,
		queue.Worker[string]{Queue: c.queue, Sync: c.sync, Workers: c.opts.Workers, Log: c.log},
		queue.Worker[string]{Queue: c.orphanQueue, Sync: c.syncOrphanPod, Log: c.log})
}

func (c *Controller) enqueueJob(obj any) {
	c.enqueueJobAfter(obj, 0)
}

func (c *Controller) enqueueJobAfter(obj any, delay time.Duration) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	if delay > 0 {
		c.queue.AddAfter(key, delay)
		return
	}
	c.queue.Add(key)
}

// deleteJob releases the Job's pods: their tracking finalizers are removed
// so that the garbage collector may delete them.
func (c *Controller) deleteJob(obj any) {
	job, ok := queue.Deleted[*batchv1.Job](obj)
	if !ok {
		return
	}
	c.enqueueJob(job)
	pods, err := c.podLister.Pods(job.Namespace).List(labelsEverything())
	if err != nil {
		return
	}
	for _, p := range pods {
		if metav1.IsControlledBy(p, job) && hasTrackingFinalizer(p) {
			c.enqueueOrphan(p)
		}
	}
}

func (c *Controller) enqueueOrphan(pod *corev1.Pod) { queue.Enqueue(c.orphanQueue, pod) }

// jobKeyForPod resolves the Job that controls pod, or "" when there is none
// in the cache (with the matching UID).
func (c *Controller) jobForPod(pod *corev1.Pod) *batchv1.Job {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "Job" || ref.APIVersion != batchv1.SchemeGroupVersion.String() {
		return nil
	}
	job, err := c.jobLister.Jobs(pod.Namespace).Get(ref.Name)
	if err != nil || job.UID != ref.UID {
		return nil
	}
	return job
}

func (c *Controller) onPodAdd(obj any) {
	pod := obj.(*corev1.Pod)
	job := c.jobForPod(pod)
	if job == nil {
		if hasTrackingFinalizer(pod) && isControlledByJob(pod) {
			c.enqueueOrphan(pod)
		}
		return
	}
	key := keyOf(job)
	if pod.DeletionTimestamp != nil {
		// A pod that is already being deleted counts as a deletion.
		c.expectations.DeletionObserved(key, podutil.Key(pod))
	} else {
		c.expectations.CreationObserved(key)
	}
	c.enqueueJobAfter(job, 0)
}

func (c *Controller) onPodUpdate(oldObj, newObj any) {
	oldPod, pod := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if oldPod.ResourceVersion == pod.ResourceVersion {
		return
	}
	oldJob := c.jobForPod(oldPod)
	job := c.jobForPod(pod)
	if job == nil && hasTrackingFinalizer(pod) && isControlledByJob(pod) {
		c.enqueueOrphan(pod)
	}
	if oldJob != nil && (job == nil || oldJob.UID != job.UID) {
		c.enqueueJob(oldJob)
	}
	if job == nil {
		return
	}
	key := keyOf(job)
	if pod.DeletionTimestamp != nil && oldPod.DeletionTimestamp == nil {
		c.expectations.DeletionObserved(key, podutil.Key(pod))
	}
	if !hasTrackingFinalizer(pod) {
		c.expectations.FinalizerRemovalObserved(key, string(pod.UID))
	}
	c.enqueueJob(job)
}

func (c *Controller) onPodDelete(obj any) {
	pod, ok := queue.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "Job" {
		return
	}
	key := pod.Namespace + "/" + ref.Name
	c.expectations.FinalizerRemovalObserved(key, string(pod.UID))
	if pod.DeletionTimestamp == nil {
		// The update that set the deletion timestamp was not seen.
		c.expectations.DeletionObserved(key, podutil.Key(pod))
	}
	if job := c.jobForPod(pod); job != nil {
		c.enqueueJob(job)
	}
}

// syncOrphanPod removes the tracking finalizer from a pod whose Job is gone
// or finished.
func (c *Controller) syncOrphanPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	pod, err := c.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !hasTrackingFinalizer(pod) {
		return nil
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if ref.Kind != "Job" || ref.APIVersion != batchv1.SchemeGroupVersion.String() {
			return nil
		}
		if job := c.jobForPod(pod); job != nil && !isFinished(job) {
			return nil // adopted; the Job's sync counts it.
		}
	}
	if err := c.removeFinalizer(ctx, pod); err != nil {
		return fmt.Errorf("pod %s: %w", key, err)
	}
	return nil
}

func keyOf(job *batchv1.Job) string { return job.Namespace + "/" + job.Name }

func isControlledByJob(pod *corev1.Pod) bool {
	ref := metav1.GetControllerOf(pod)
	return ref != nil && ref.Kind == "Job" && ref.APIVersion == batchv1.SchemeGroupVersion.String()
}
