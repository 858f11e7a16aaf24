// Package endpointslice keeps the discovery.k8s.io/v1 EndpointSlices of
// every Service with a selector, as kube-controller-manager's EndpointSlice
// controller does: one endpoint per pod the selector matches that has an IP
// and has not finished (terminating pods included, with their ready, serving
// and terminating conditions), ports resolved per pod (named targetPorts from
// the pod's container ports), at most MaxEndpointsPerSlice endpoints per
// slice, slices owned by the Service and labelled with its name and this
// controller as their manager. Desired decides; the Controller writes.
package endpointslice

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"skiff.dev/skiff/internal/controller/expectations"
	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/wellknown"
)

// missingNodeRetry is how soon a Service whose pods sit on unknown nodes is
// looked at again (a node's add event also brings it back).
const missingNodeRetry = 5 * time.Second

// Options tunes the controller. Zero values mean the defaults.
type Options struct {
	// Options are the worker count (default 5, kube-controller-manager's
	// --concurrent-service-endpoint-syncs) and the logger.
	queue.Options
}

// Controller writes the EndpointSlices of Services with a selector.
type Controller struct {
	client   kubernetes.Interface
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	nodes    corelisters.NodeLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	exp      *expectations.Expectations
	workers  int
	log      *slog.Logger
}

// New wires the event handlers; the caller starts the informer factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Options = opts.Options.Defaulted(5)
	svcs := factory.Core().V1().Services()
	pods := factory.Core().V1().Pods()
	nodes := factory.Core().V1().Nodes()
	slices := factory.Discovery().V1().EndpointSlices()
	c := &Controller{
		client:   client,
		services: svcs.Lister(),
		pods:     pods.Lister(),
		nodes:    nodes.Lister(),
		slices:   slices.Lister(),
		synced:   []cache.InformerSynced{svcs.Informer().HasSynced, pods.Informer().HasSynced, nodes.Informer().HasSynced, slices.Informer().HasSynced},
		queue:    queue.New[string]("endpoint_slice", nil),
		exp:      expectations.New(nil),
		workers:  opts.Workers,
		log:      opts.Logger.With("controller", "endpointslice"),
	}
	_, _ = svcs.Informer().AddEventHandler(queue.OnEvery(func(obj any) { queue.Enqueue(c.queue, obj) }))
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.podChanged,
		UpdateFunc: func(old, obj any) {
			c.podChanged(old)
			c.podChanged(obj)
		},
		DeleteFunc: c.podChanged,
	})
	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.enqueueAll() },
		UpdateFunc: func(old, obj any) {
			o, ok1 := old.(*corev1.Node)
			n, ok2 := obj.(*corev1.Node)
			if ok1 && ok2 && o.Labels[corev1.LabelTopologyZone] != n.Labels[corev1.LabelTopologyZone] {
				c.enqueueAll()
			}
		},
		DeleteFunc: func(any) { c.enqueueAll() },
	})
	_, _ = slices.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if key, ok := serviceKey(obj); ok {
				c.exp.CreationObserved(key)
				c.queue.Add(key)
			}
		},
		UpdateFunc: func(_, obj any) {
			if key, ok := serviceKey(obj); ok {
				c.queue.Add(key)
			}
		},
		DeleteFunc: func(obj any) {
			if key, ok := serviceKey(obj); ok {
				if s, ok := queue.Deleted[*discoveryv1.EndpointSlice](obj); ok {
					c.exp.DeletionObserved(key, s.Namespace+"/"+s.Name)
				}
				c.queue.Add(key)
			}
		},
	})
	return c
}

// Run waits for the caches, then runs Options.Workers goroutines until ctx
// is done.
func (c *Controller) Run(ctx context.Context) {
	queue.RunWorkers(ctx, c.synced,
		queue.Worker[string]{Queue: c.queue, SyncAfter: c.sync, Workers: c.workers, Log: c.log})
}

// serviceKey is the namespace/name of the Service a slice this controller
// manages belongs to.
func serviceKey(obj any) (string, bool) {
	s, ok := queue.Deleted[*discoveryv1.EndpointSlice](obj)
	if !ok || s.Labels[discoveryv1.LabelManagedBy] != wellknown.EndpointSliceControllerName || s.Labels[discoveryv1.LabelServiceName] == "" {
		return "", false
	}
	return s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName], true
}

// podChanged enqueues the Services whose selector matches the pod.
func (c *Controller) podChanged(obj any) {
	pod, ok := queue.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	svcs, err := c.services.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, svc := range svcs {
		if svc.Spec.Selector != nil && labels.SelectorFromValidatedSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			queue.Enqueue(c.queue, svc)
		}
	}
}

func (c *Controller) enqueueAll() {
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return
	}
	for _, svc := range svcs {
		queue.Enqueue(c.queue, svc)
	}
}

func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, queue.Terminal(err)
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The garbage collector deletes the slices the Service owned.
		c.exp.Delete(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if !c.exp.Satisfied(key) {
		return 0, nil // our last writes are not in the cache yet; their events bring the key back
	}
	existing, err := c.slices.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{
		discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: wellknown.EndpointSliceControllerName,
	}))
	if err != nil {
		return 0, err
	}
	var pods []*corev1.Pod
	if svc.Spec.Selector != nil {
		if pods, err = c.pods.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector)); err != nil {
			return 0, err
		}
	}
	nodes := map[string]*corev1.Node{}
	for _, pod := range pods {
		if pod.Spec.NodeName == "" {
			continue
		}
		if _, ok := nodes[pod.Spec.NodeName]; ok {
			continue
		}
		if node, err := c.nodes.Get(pod.Spec.NodeName); err == nil {
			nodes[pod.Spec.NodeName] = node
		}
	}
	plan := Desired(svc, pods, nodes, existing)
	if err := c.apply(ctx, key, plan); err != nil {
		return 0, err
	}
	if plan.MissingNodes {
		return missingNodeRetry, nil
	}
	return 0, nil
}

// apply carries out a plan for the Service key names.
func (c *Controller) apply(ctx context.Context, key string, plan Plan) error {
	if plan.Empty() {
		return nil
	}
	c.exp.Raise(key, len(plan.Create), len(plan.Delete))
	// A write that fails leaves its expectation, and those of the writes
	// not tried, unmet: strike them off so the next sync is not held back.
	for i, s := range plan.Create {
		if _, err := c.client.DiscoveryV1().EndpointSlices(s.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			for range len(plan.Create) - i {
				c.exp.CreationObserved(key)
			}
			for range plan.Delete {
				c.exp.DeletionObserved(key, "")
			}
			return fmt.Errorf("create endpointslice for service %s: %w", key, err)
		}
	}
	for i, s := range plan.Delete {
		err := c.client.DiscoveryV1().EndpointSlices(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
		if apierrors.IsNotFound(err) {
			c.exp.DeletionObserved(key, "")
		} else if err != nil {
			for range len(plan.Delete) - i {
				c.exp.DeletionObserved(key, "")
			}
			return fmt.Errorf("delete endpointslice %s/%s: %w", s.Namespace, s.Name, err)
		}
	}
	for _, s := range plan.Update {
		if _, err := c.client.DiscoveryV1().EndpointSlices(s.Namespace).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update endpointslice %s/%s: %w", s.Namespace, s.Name, err)
		}
	}
	c.log.Debug("synced", "service", key, "created", len(plan.Create), "updated", len(plan.Update), "deleted", len(plan.Delete))
	return nil
}
