// Package endpoints keeps the core/v1 Endpoints of every Service with a
// selector, as kube-controller-manager's endpoints controller does: ready
// pods as addresses, the others as notReadyAddresses, terminating pods left
// out unless the Service publishes not-ready addresses, ports resolved per
// pod, subsets repacked, at most MaxCapacity addresses (the object is then
// annotated over-capacity). The Endpoints carry the label
// endpoints.kubernetes.io/managed-by=endpoint-controller; an Endpoints
// object without it (the hand-written Endpoints of a Service without a
// selector) is never touched. Desired decides; the Controller writes.
package endpoints

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/wellknown"
)

// Options tunes the controller. Zero values mean the defaults.
type Options struct {
	// Options are the worker count (default 5, kube-controller-manager's
	// --concurrent-endpoint-syncs) and the logger.
	queue.Options
}

// Controller writes the Endpoints of Services with a selector.
type Controller struct {
	client    kubernetes.Interface
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	workers   int
	log       *slog.Logger
}

// New wires the event handlers; the caller starts the informer factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Options = opts.Options.Defaulted(5)
	svcs := factory.Core().V1().Services()
	pods := factory.Core().V1().Pods()
	eps := factory.Core().V1().Endpoints()
	c := &Controller{
		client:    client,
		services:  svcs.Lister(),
		pods:      pods.Lister(),
		endpoints: eps.Lister(),
		synced:    []cache.InformerSynced{svcs.Informer().HasSynced, pods.Informer().HasSynced, eps.Informer().HasSynced},
		queue:     queue.New[string]("endpoint", nil),
		workers:   opts.Workers,
		log:       opts.Logger.With("controller", "endpoints"),
	}
	enqueue := func(obj any) { queue.Enqueue(c.queue, obj) }
	_, _ = svcs.Informer().AddEventHandler(queue.OnEvery(enqueue))
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.podChanged,
		UpdateFunc: func(old, obj any) {
			c.podChanged(old)
			c.podChanged(obj)
		},
		DeleteFunc: c.podChanged,
	})
	// Our own Endpoints: a change or deletion by someone else is undone, and
	// those left behind by a deleted Service are found at the start.
	ours := func(obj any) {
		if ep, ok := queue.Deleted[*corev1.Endpoints](obj); ok && ep.Labels[wellknown.EndpointsManagedByLabel] == wellknown.EndpointsControllerName {
			enqueue(obj)
		}
	}
	_, _ = eps.Informer().AddEventHandler(queue.OnEvery(ours))
	return c
}

// Run waits for the caches, then runs Options.Workers goroutines until ctx
// is done.
func (c *Controller) Run(ctx context.Context) {
	queue.RunWorkers(ctx, c.synced,
		queue.Worker[string]{Queue: c.queue, Sync: c.sync, Workers: c.workers, Log: c.log})
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

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return queue.Terminal(err)
	}
	current, err := c.endpoints.Endpoints(ns).Get(name)
	if apierrors.IsNotFound(err) {
		current = nil
	} else if err != nil {
		return err
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		if current == nil || current.Labels[wellknown.EndpointsManagedByLabel] != wellknown.EndpointsControllerName {
			return nil
		}
		err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &current.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete endpoints %s of a deleted service: %w", key, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil // its Endpoints are someone else's
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	want, changed := Desired(svc, pods, current)
	if !changed {
		return nil
	}
	if current == nil {
		_, err = c.client.CoreV1().Endpoints(ns).Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return queue.Retry(fmt.Errorf("endpoints %s: not in the cache yet: %w", key, err))
		}
	} else {
		_, err = c.client.CoreV1().Endpoints(ns).Update(ctx, want, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("write endpoints %s: %w", key, err)
	}
	return nil
}
