// Package servicelb is the built-in LoadBalancer implementation, as k3s's
// ServiceLB: a Service of type LoadBalancer whose spec.loadBalancerClass is
// unset or wellknown.ServiceLBClass gets, as status.loadBalancer.ingress,
// the InternalIP addresses of the Ready nodes that run skiff's service proxy
// (labelled wellknown.ServiceProxyLabel=true), which answer on the
// Service's ports; with externalTrafficPolicy Local, only those of them
// that host a ready endpoint of the Service. A Service of another class is
// left alone; one that stops being a LoadBalancer has its ingress cleared.
// Ingress decides; the Controller writes the status.
package servicelb

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/wellknown"
)

// Manages reports whether svc is this implementation's: a LoadBalancer with
// no class or wellknown.ServiceLBClass.
func Manages(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		(svc.Spec.LoadBalancerClass == nil || *svc.Spec.LoadBalancerClass == wellknown.ServiceLBClass)
}

// Ingress is the status.loadBalancer.ingress svc should have, given the
// nodes and svc's EndpointSlices: the InternalIPs of the Ready nodes labelled
// wellknown.ServiceProxyLabel=true (with externalTrafficPolicy Local, only
// those hosting a ready endpoint), sorted and without duplicates, each with
// ipMode VIP.
func Ingress(svc *corev1.Service, nodes []*corev1.Node, eps []*discoveryv1.EndpointSlice) []corev1.LoadBalancerIngress {
	var local map[string]bool
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		local = map[string]bool{}
		for _, s := range eps {
			for _, e := range s.Endpoints {
				if e.NodeName != nil && (e.Conditions.Ready == nil || *e.Conditions.Ready) {
					local[*e.NodeName] = true
				}
			}
		}
	}
	var addrs []netip.Addr
	for _, n := range nodes {
		if n.Labels[wellknown.ServiceProxyLabel] != "true" || !ready(n) || n.DeletionTimestamp != nil {
			continue
		}
		if local != nil && !local[n.Name] {
			continue
		}
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				addrs = append(addrs, ip.Unmap())
			}
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	addrs = slices.Compact(addrs)
	var out []corev1.LoadBalancerIngress
	for _, a := range addrs {
		out = append(out, corev1.LoadBalancerIngress{IP: a.String(), IPMode: new(corev1.LoadBalancerIPModeVIP)})
	}
	return out
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Desired is the load-balancer status svc should have and whether that
// differs from its current one; ok is false when svc is not this
// implementation's to write (another class).
func Desired(svc *corev1.Service, nodes []*corev1.Node, eps []*discoveryv1.EndpointSlice) (status corev1.LoadBalancerStatus, changed, ok bool) {
	switch {
	case Manages(svc):
		status.Ingress = Ingress(svc, nodes, eps)
	case svc.Spec.Type == corev1.ServiceTypeLoadBalancer:
		return status, false, false // another implementation's
	}
	cur := svc.Status.LoadBalancer.Ingress
	if len(cur) == 0 && len(status.Ingress) == 0 {
		return status, false, true
	}
	return status, !apiequality.Semantic.DeepEqual(cur, status.Ingress), true
}

// Options tunes the controller. Zero values mean the defaults.
type Options struct {
	// Options are the worker count (default 1, as
	// kube-controller-manager's --concurrent-service-syncs) and the logger.
	queue.Options
}

// Controller writes the load-balancer status of Services.
type Controller struct {
	client   kubernetes.Interface
	services corelisters.ServiceLister
	nodes    corelisters.NodeLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	workers  int
	log      *slog.Logger
}

// New wires the event handlers; the caller starts the informer factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Options = opts.Options.Defaulted(1)
	svcs := factory.Core().V1().Services()
	nodes := factory.Core().V1().Nodes()
	eps := factory.Discovery().V1().EndpointSlices()
	c := &Controller{
		client:   client,
		services: svcs.Lister(),
		nodes:    nodes.Lister(),
		slices:   eps.Lister(),
		synced:   []cache.InformerSynced{svcs.Informer().HasSynced, nodes.Informer().HasSynced, eps.Informer().HasSynced},
		queue:    queue.New[string]("service", nil),
		workers:  opts.Workers,
		log:      opts.Logger.With("controller", "servicelb"),
	}
	_, _ = svcs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { queue.Enqueue(c.queue, obj) },
		UpdateFunc: func(_, obj any) { queue.Enqueue(c.queue, obj) },
	})
	all := func(any) { c.enqueueLoadBalancers() }
	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: all,
		UpdateFunc: func(old, obj any) {
			o, ok1 := old.(*corev1.Node)
			n, ok2 := obj.(*corev1.Node)
			if !ok1 || !ok2 || ready(o) != ready(n) || o.Labels[wellknown.ServiceProxyLabel] != n.Labels[wellknown.ServiceProxyLabel] ||
				!apiequality.Semantic.DeepEqual(o.Status.Addresses, n.Status.Addresses) {
				c.enqueueLoadBalancers()
			}
		},
		DeleteFunc: all,
	})
	slice := func(obj any) {
		if s, ok := queue.Deleted[*discoveryv1.EndpointSlice](obj); ok && s.Labels[discoveryv1.LabelServiceName] != "" {
			c.queue.Add(s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName])
		}
	}
	_, _ = eps.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    slice,
		UpdateFunc: func(_, obj any) { slice(obj) },
		DeleteFunc: slice,
	})
	return c
}

// Run waits for the caches, then runs Options.Workers goroutines until ctx
// is done.
func (c *Controller) Run(ctx context.Context) {
	queue.RunWorkers(ctx, c.synced,
		queue.Worker[string]{Queue: c.queue, Sync: c.sync, Workers: c.workers, Log: c.log})
}

func (c *Controller) enqueueLoadBalancers() {
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return
	}
	for _, svc := range svcs {
		if Manages(svc) {
			queue.Enqueue(c.queue, svc)
		}
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return queue.Terminal(err)
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	nodes, err := c.nodes.List(labels.SelectorFromSet(labels.Set{wellknown.ServiceProxyLabel: "true"}))
	if err != nil {
		return err
	}
	var eps []*discoveryv1.EndpointSlice
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		if eps, err = c.slices.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})); err != nil {
			return err
		}
	}
	status, changed, ok := Desired(svc, nodes, eps)
	if !ok || !changed {
		return nil
	}
	svc = svc.DeepCopy()
	svc.Status.LoadBalancer = status
	if _, err := c.client.CoreV1().Services(ns).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update load-balancer status of service %s: %w", key, err)
	}
	c.log.Info("load-balancer status", "service", key, "ingress", len(status.Ingress))
	return nil
}
