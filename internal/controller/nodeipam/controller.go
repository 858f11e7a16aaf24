package nodeipam

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"skiff.dev/skiff/internal/controller/queue"
)

// DefaultClusterCIDR is the range node pod CIDRs are taken from by default.
var DefaultClusterCIDR = netip.MustParsePrefix("10.42.0.0/16")

// ReasonCIDRNotAvailable is the reason of the event a node gets when no pod
// CIDR is left for it.
const ReasonCIDRNotAvailable = "CIDRNotAvailable"

// Options configure the controller; zero values take the defaults.
type Options struct {
	// Options are the worker count (default 10) and the logger.
	queue.Options
	// ClusterCIDR is split into the nodes' pod CIDRs; default 10.42.0.0/16.
	ClusterCIDR netip.Prefix
	// NodeCIDRMaskSize is the prefix length of a node's pod CIDR; default
	// 24 for an IPv4 cluster CIDR, 64 for IPv6 (kube-controller-manager's
	// --node-cidr-mask-size).
	NodeCIDRMaskSize int
}

// Controller assigns pod CIDRs to nodes.
type Controller struct {
	client     kubernetes.Interface
	recorder   record.EventRecorder
	log        *slog.Logger
	nodeLister corelisters.NodeLister
	synced     cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
	workers    int

	mu     sync.Mutex
	set    *cidrSet
	byNode map[string]netip.Prefix // what each node holds or is being given
}

// New wires the controller's event handlers on the factory's node informer;
// it starts nothing. It fails when the CIDR options do not fit.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) (*Controller, error) {
	opts.ClusterCIDR, opts.NodeCIDRMaskSize = defaults(opts.ClusterCIDR, opts.NodeCIDRMaskSize)
	opts.Options = opts.Options.Defaulted(10)
	set, err := newCIDRSet(opts.ClusterCIDR, opts.NodeCIDRMaskSize)
	if err != nil {
		return nil, fmt.Errorf("nodeipam: %w", err)
	}
	c := &Controller{
		client:   client,
		recorder: recorder,
		log:      opts.Logger.With("controller", "nodeipam"),
		set:      set,
		workers:  opts.Workers,
		byNode:   map[string]netip.Prefix{},
		queue:    queue.New[string]("cidrallocator_node", nil),
	}
	nodes := factory.Core().V1().Nodes()
	c.nodeLister = nodes.Lister()
	informer := nodes.Informer()
	c.synced = informer.HasSynced
	_, err = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("nodeipam: node handler: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) { queue.Enqueue(c.queue, obj) }

// Run waits for the node cache, takes note of every pod CIDR the nodes
// already hold, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		c.log.Error("list nodes", "err", err)
		return
	}
	c.mu.Lock()
	for _, n := range nodes {
		c.recordLocked(n)
	}
	c.mu.Unlock()
	c.log.Info("node IPAM ready", "nodes", len(nodes))
	// The caches are synced already.
	queue.RunWorkers(ctx, nil, queue.Worker[string]{Queue: c.queue, Sync: c.sync, Workers: c.workers, Log: c.log})
}

// podCIDR returns the node's pod CIDR, if it has a valid one.
func podCIDR(n *corev1.Node) (netip.Prefix, bool) {
	s := n.Spec.PodCIDR
	if s == "" && len(n.Spec.PodCIDRs) > 0 {
		s = n.Spec.PodCIDRs[0]
	}
	if s == "" {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(s)
	return p.Masked(), err == nil
}

// recordLocked takes note of the CIDR the node holds, if any.
func (c *Controller) recordLocked(n *corev1.Node) {
	cidr, ok := podCIDR(n)
	if !ok {
		return
	}
	if old, had := c.byNode[n.Name]; had && old != cidr {
		c.set.release(old)
	}
	c.byNode[n.Name] = cidr
	if !c.set.occupy(cidr) {
		c.log.Info("node's pod CIDR is outside the cluster CIDR: left alone", "node", n.Name, "podCIDR", cidr)
	}
}

// sync makes one node's pod CIDR what it should be: kept when it has one,
// given when it has none, released when the node is gone.
func (c *Controller) sync(ctx context.Context, name string) error {
	node, err := c.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		c.release(name)
		return nil
	}
	if err != nil {
		return err
	}
	if cidr, ok := podCIDR(node); ok {
		c.mu.Lock()
		c.recordLocked(node)
		c.mu.Unlock()
		return c.setNetworkCondition(ctx, node, "", cidr)
	}
	c.mu.Lock()
	cidr, ok := c.byNode[name]
	if !ok {
		cidr, err = c.set.allocate()
		if err == nil {
			c.byNode[name] = cidr
		}
	}
	exhausted := exhaustedMessage(c.set.cluster, c.set.bits, c.set.count)
	c.mu.Unlock()
	if err != nil {
		// As kube-controller-manager: a Normal event with its words.
		c.recorder.Eventf(&corev1.ObjectReference{Kind: "Node", Name: node.Name, UID: node.UID},
			corev1.EventTypeNormal, ReasonCIDRNotAvailable, "Node %s status is now: %s", node.Name, ReasonCIDRNotAvailable)
		// NetworkUnavailable keeps pods off the node (the node lifecycle
		// controller taints it); retrying is ordinary until a node goes.
		if cerr := c.setNetworkCondition(ctx, node, exhausted, netip.Prefix{}); cerr != nil {
			return cerr
		}
		return queue.Retry(fmt.Errorf("pod CIDR for node %s: %w", name, err))
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidr.String(), "podCIDRs": []string{cidr.String()}}})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		c.release(name)
		return nil
	}
	if err != nil {
		// The reservation stays: the next attempt offers the same CIDR,
		// or finds the one someone else set.
		return fmt.Errorf("set pod CIDR %s on node %s: %w", cidr, name, err)
	}
	c.log.Info("pod CIDR assigned", "node", name, "podCIDR", cidr)
	return nil
}

// setNetworkCondition writes the node's NetworkUnavailable condition when
// networkCondition says it must change.
func (c *Controller) setNetworkCondition(ctx context.Context, node *corev1.Node, exhausted string, cidr netip.Prefix) error {
	cond, write := networkCondition(node, exhausted, cidr, metav1.Now())
	if !write {
		return nil
	}
	_, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, withCondition(node, cond), metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("set condition %s=%s on node %s: %w", cond.Type, cond.Status, node.Name, err)
	}
	if cond.Status == corev1.ConditionTrue {
		c.log.Warn("no pod CIDR left for node: marked NetworkUnavailable", "node", node.Name, "message", cond.Message)
	} else {
		c.log.Info("node has a pod CIDR: network available", "node", node.Name, "reason", cond.Reason)
	}
	return nil
}

// release frees the CIDR of a deleted node and retries the nodes waiting
// for one.
func (c *Controller) release(name string) {
	c.mu.Lock()
	cidr, ok := c.byNode[name]
	if ok {
		delete(c.byNode, name)
		held := false
		for _, other := range c.byNode {
			held = held || other == cidr
		}
		if !held {
			c.set.release(cidr)
		}
	}
	c.mu.Unlock()
	if !ok {
		return
	}
	c.log.Info("pod CIDR released", "node", name, "podCIDR", cidr)
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, n := range nodes {
		if _, has := podCIDR(n); !has {
			c.queue.Add(n.Name)
		}
	}
}
