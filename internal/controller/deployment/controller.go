package deployment

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/controller/controllerref"
	"skiff.dev/skiff/internal/controller/queue"
)

// controllerKind is the kind that owns the ReplicaSets this controller
// creates.
var controllerKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// Options tunes the controller. Zero values mean Kubernetes' defaults.
type Options struct {
	// Options are the worker count (default 5) and the logger.
	queue.Options
	// Clock tells the time for conditions and the progress deadline. Nil
	// means the real clock.
	Clock clock.PassiveClock
}

// Controller is the Deployment controller.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	dLister  appslisters.DeploymentLister
	rsLister appslisters.ReplicaSetLister
	pods     corelisters.PodLister
	owners   controllerref.Owners[*appsv1.Deployment]
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	clock    clock.PassiveClock
	workers  int
	log      *slog.Logger
}

// New wires the controller's informer event handlers on the Deployment,
// ReplicaSet and Pod informers of factory. It does not start anything; the
// caller starts factory and then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) *Controller {
	opts.Options = opts.Options.Defaulted(5)
	opts.Clock = cmp.Or[clock.PassiveClock](opts.Clock, clock.RealClock{})
	dInformer := factory.Apps().V1().Deployments()
	rsInformer := factory.Apps().V1().ReplicaSets()
	podInformer := factory.Core().V1().Pods()
	dLister := dInformer.Lister()
	c := &Controller{
		client:   client,
		recorder: recorder,
		dLister:  dLister,
		rsLister: rsInformer.Lister(),
		pods:     podInformer.Lister(),
		owners: controllerref.NewOwners(controllerKind, dLister.Deployments,
			func(d *appsv1.Deployment) *metav1.LabelSelector { return d.Spec.Selector }),
		synced: []cache.InformerSynced{
			dInformer.Informer().HasSynced, rsInformer.Informer().HasSynced, podInformer.Informer().HasSynced,
		},
		queue:   queue.New[string]("deployment", nil),
		clock:   opts.Clock,
		workers: opts.Workers,
		log:     opts.Logger.With("controller", "deployment"),
	}
	handlers := []struct {
		informer cache.SharedIndexInformer
		h        cache.ResourceEventHandler
	}{
		{dInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, cur any) { c.enqueue(cur) },
			DeleteFunc: c.enqueue,
		}},
		{rsInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.replicaSetChanged(nil, obj) },
			UpdateFunc: c.replicaSetChanged,
			DeleteFunc: func(obj any) { c.replicaSetChanged(nil, obj) },
		}},
		{podInformer.Informer(), cache.ResourceEventHandlerFuncs{
			DeleteFunc: c.deletePod,
		}},
	}
	for _, h := range handlers {
		if _, err := h.informer.AddEventHandler(h.h); err != nil {
			c.log.Error("adding event handler", "err", err)
		}
	}
	return c
}

// Run waits for the informers' caches, then runs Options.Workers
// goroutines over the work queue until ctx is done.
func (c *Controller) Run(ctx context.Context) {
	queue.RunWorkers(ctx, c.synced, queue.Worker[string]{Queue: c.queue, Sync: c.sync, Workers: c.workers, Log: c.log})
}

func (c *Controller) enqueue(obj any) { queue.Enqueue(c.queue, obj) }

// replicaSetChanged enqueues the Deployments a ReplicaSet change concerns:
// its old and new controllers, or, for an orphan, every Deployment whose
// selector matches it (one of them may adopt it).
func (c *Controller) replicaSetChanged(oldObj, curObj any) {
	rs := asReplicaSet(curObj)
	if rs == nil {
		return
	}
	if old := asReplicaSet(oldObj); old != nil {
		if old.ResourceVersion == rs.ResourceVersion {
			return
		}
		if d, ok := c.owners.Resolve(old.Namespace, metav1.GetControllerOf(old)); ok {
			c.enqueue(d)
		}
	}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		if d, ok := c.owners.Resolve(rs.Namespace, ref); ok {
			c.enqueue(d)
		}
		return
	}
	for _, d := range c.owners.Matching(rs) {
		c.enqueue(d)
	}
}

func asReplicaSet(obj any) *appsv1.ReplicaSet {
	rs, _ := queue.Deleted[*appsv1.ReplicaSet](obj)
	return rs
}

// deletePod wakes a Recreate Deployment up when one of its old pods goes:
// it waits for all of them to be gone before it scales the new
// ReplicaSet up.
func (c *Controller) deletePod(obj any) {
	pod, ok := queue.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	if d, ok := c.owners.Resolve(rs.Namespace, metav1.GetControllerOf(rs)); ok && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.enqueue(d)
	}
}

// errorf wraps err with the Deployment's namespace/name.
func errorf(d *appsv1.Deployment, format string, args ...any) error {
	return fmt.Errorf("deployment %s/%s: "+format, append([]any{d.Namespace, d.Name}, args...)...)
}
