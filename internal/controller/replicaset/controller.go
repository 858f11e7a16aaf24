package replicaset

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/controller/controllerref"
	"skiff.dev/skiff/internal/controller/expectations"
	"skiff.dev/skiff/internal/controller/podutil"
	"skiff.dev/skiff/internal/controller/queue"
)

// controllerKind is the kind that owns the pods this controller creates.
var controllerKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// Options tunes the controller. Zero values mean Kubernetes' defaults.
type Options struct {
	// Options are the worker count (default 5) and the logger.
	queue.Options
	// BurstReplicas caps how many pods one sync creates or deletes
	// (kube-controller-manager's burstReplicas). Zero means 500.
	BurstReplicas int
	// Clock tells the time for availability (minReadySeconds), deletion
	// ranking and expectations. Nil means the real clock.
	Clock clock.PassiveClock
}

// Controller is the ReplicaSet controller.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	rsLister appslisters.ReplicaSetLister
	pods     corelisters.PodLister
	owners   controllerref.Owners[*appsv1.ReplicaSet]
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	exp      *expectations.Expectations
	burst    int
	workers  int
	clock    clock.PassiveClock
	log      *slog.Logger
}

// New wires the controller's informer event handlers on the ReplicaSet and
// Pod informers of factory. It does not start anything; the caller starts
// factory and then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) *Controller {
	if opts.BurstReplicas <= 0 {
		opts.BurstReplicas = 500
	}
	opts.Options = opts.Options.Defaulted(5)
	opts.Clock = cmp.Or[clock.PassiveClock](opts.Clock, clock.RealClock{})
	rsInformer := factory.Apps().V1().ReplicaSets()
	podInformer := factory.Core().V1().Pods()
	rsLister := rsInformer.Lister()
	c := &Controller{
		client:   client,
		recorder: recorder,
		rsLister: rsLister,
		pods:     podInformer.Lister(),
		owners: controllerref.NewOwners(controllerKind, rsLister.ReplicaSets,
			func(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.Spec.Selector }),
		synced:  []cache.InformerSynced{rsInformer.Informer().HasSynced, podInformer.Informer().HasSynced},
		queue:   queue.New[string]("replicaset", nil),
		exp:     expectations.New(opts.Clock),
		burst:   opts.BurstReplicas,
		workers: opts.Workers,
		clock:   opts.Clock,
		log:     opts.Logger.With("controller", "replicaset"),
	}
	if _, err := rsInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.deleteReplicaSet,
	}); err != nil {
		c.log.Error("adding replicaset event handler", "err", err)
	}
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		c.log.Error("adding pod event handler", "err", err)
	}
	return c
}

// Run waits for the informers' caches, then runs Options.Workers
// goroutines over the work queue until ctx is done.
func (c *Controller) Run(ctx context.Context) {
	queue.RunWorkers(ctx, c.synced, queue.Worker[string]{Queue: c.queue, Sync: c.sync, Workers: c.workers, Log: c.log})
}

func (c *Controller) enqueue(obj any) { queue.Enqueue(c.queue, obj) }

func (c *Controller) deleteReplicaSet(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.exp.Delete(key)
	c.queue.Add(key)
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already being deleted (e.g. after a
		// relist): it must not count as a creation.
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		rs, ok := c.owners.Resolve(pod.Namespace, ref)
		if !ok {
			return
		}
		key, _ := cache.MetaNamespaceKeyFunc(rs)
		c.exp.CreationObserved(key)
		c.queue.Add(key)
		return
	}
	for _, rs := range c.owners.Matching(pod) {
		c.enqueue(rs)
	}
}

func (c *Controller) updatePod(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	labelsChanged := !labels.Equals(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		// A graceful deletion shows up as an update; count it as the
		// deletion now so that a replacement is created without waiting
		// for the kubelet.
		c.deletePod(cur)
		if labelsChanged {
			c.deletePod(old)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := (curRef == nil) != (oldRef == nil) || (curRef != nil && oldRef != nil && curRef.UID != oldRef.UID)
	if refChanged && oldRef != nil {
		if rs, ok := c.owners.Resolve(old.Namespace, oldRef); ok {
			c.enqueue(rs)
		}
	}
	if curRef != nil {
		rs, ok := c.owners.Resolve(cur.Namespace, curRef)
		if !ok {
			return
		}
		c.enqueue(rs)
		// A pod that just became ready turns available minReadySeconds
		// later; look again then.
		if !podutil.IsReady(old) && podutil.IsReady(cur) && rs.Spec.MinReadySeconds > 0 {
			queue.EnqueueAfter(c.queue, rs, time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if labelsChanged || refChanged {
		for _, rs := range c.owners.Matching(cur) {
			c.enqueue(rs)
		}
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := queue.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	rs, ok := c.owners.Resolve(pod.Namespace, metav1.GetControllerOf(pod))
	if !ok {
		return
	}
	key, _ := cache.MetaNamespaceKeyFunc(rs)
	c.exp.DeletionObserved(key, podutil.Key(pod))
	c.queue.Add(key)
}

// errorf wraps err with the ReplicaSet's namespace/name.
func errorf(rs *appsv1.ReplicaSet, format string, args ...any) error {
	return fmt.Errorf("replicaset %s/%s: "+format, append([]any{rs.Namespace, rs.Name}, args...)...)
}
