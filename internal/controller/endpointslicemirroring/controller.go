// Package endpointslicemirroring mirrors the hand-written Endpoints of
// Services without a selector into EndpointSlices, as
// kube-controller-manager's EndpointSlice mirroring controller does: the
// slices are labelled with the Service's name and
// endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io,
// owned by the Endpoints, and removed when the Endpoints or the Service goes,
// when the Service gets a selector, or when the Endpoints is labelled
// endpointslice.kubernetes.io/skip-mirror=true. Desired decides; the
// Controller writes.
package endpointslicemirroring

import (
	"context"
	"fmt"
	"log/slog"

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

// Options tunes the controller. Zero values mean the defaults.
type Options struct {
	// Options are the worker count (default 5, kube-controller-manager's
	// --mirroring-concurrent-service-endpoint-syncs) and the logger.
	queue.Options
}

// Controller mirrors Endpoints into EndpointSlices.
type Controller struct {
	client    kubernetes.Interface
	services  corelisters.ServiceLister
	endpoints corelisters.EndpointsLister
	slices    discoverylisters.EndpointSliceLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	exp       *expectations.Expectations
	workers   int
	log       *slog.Logger
}

// New wires the event handlers; the caller starts the informer factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Options = opts.Options.Defaulted(5)
	svcs := factory.Core().V1().Services()
	eps := factory.Core().V1().Endpoints()
	slices := factory.Discovery().V1().EndpointSlices()
	c := &Controller{
		client:    client,
		services:  svcs.Lister(),
		endpoints: eps.Lister(),
		slices:    slices.Lister(),
		synced:    []cache.InformerSynced{svcs.Informer().HasSynced, eps.Informer().HasSynced, slices.Informer().HasSynced},
		queue:     queue.New[string]("endpoint_slice_mirroring", nil),
		exp:       expectations.New(nil),
		workers:   opts.Workers,
		log:       opts.Logger.With("controller", "endpointslice-mirroring"),
	}
	enqueue := func(obj any) { queue.Enqueue(c.queue, obj) }
	for _, inf := range []cache.SharedIndexInformer{svcs.Informer(), eps.Informer()} {
		_, _ = inf.AddEventHandler(queue.OnEvery(enqueue))
	}
	_, _ = slices.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if key, ok := endpointsKey(obj); ok {
				c.exp.CreationObserved(key)
				c.queue.Add(key)
			}
		},
		UpdateFunc: func(_, obj any) {
			if key, ok := endpointsKey(obj); ok {
				c.queue.Add(key)
			}
		},
		DeleteFunc: func(obj any) {
			if key, ok := endpointsKey(obj); ok {
				c.exp.DeletionObserved(key, "")
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
		queue.Worker[string]{Queue: c.queue, Sync: c.sync, Workers: c.workers, Log: c.log})
}

// endpointsKey is the namespace/name of the Endpoints a mirrored slice
// belongs to.
func endpointsKey(obj any) (string, bool) {
	s, ok := queue.Deleted[*discoveryv1.EndpointSlice](obj)
	if !ok || s.Labels[discoveryv1.LabelManagedBy] != wellknown.EndpointSliceMirroringControllerName || s.Labels[discoveryv1.LabelServiceName] == "" {
		return "", false
	}
	return s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName], true
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return queue.Terminal(err)
	}
	if !c.exp.Satisfied(key) {
		return nil // our last writes are not in the cache yet; their events bring the key back
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		svc = nil
	} else if err != nil {
		return err
	}
	ep, err := c.endpoints.Endpoints(ns).Get(name)
	if apierrors.IsNotFound(err) {
		ep = nil
	} else if err != nil {
		return err
	}
	existing, err := c.slices.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{
		discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: wellknown.EndpointSliceMirroringControllerName,
	}))
	if err != nil {
		return err
	}
	mirror := ShouldMirror(svc, ep)
	if ep == nil {
		ep = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	plan := Desired(ep, mirror, existing)
	if plan.Empty() {
		return nil
	}
	c.exp.Raise(key, len(plan.Create), len(plan.Delete))
	slices := c.client.DiscoveryV1().EndpointSlices(ns)
	for i, s := range plan.Create {
		if _, err := slices.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			c.exp.Raise(key, -(len(plan.Create) - i), -len(plan.Delete))
			return fmt.Errorf("create mirrored endpointslice for %s: %w", key, err)
		}
	}
	for i, s := range plan.Delete {
		err := slices.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
		if apierrors.IsNotFound(err) {
			c.exp.Raise(key, 0, -1)
		} else if err != nil {
			c.exp.Raise(key, 0, -(len(plan.Delete) - i))
			return fmt.Errorf("delete mirrored endpointslice %s/%s: %w", ns, s.Name, err)
		}
	}
	for _, s := range plan.Update {
		if _, err := slices.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update mirrored endpointslice %s/%s: %w", ns, s.Name, err)
		}
	}
	return nil
}
