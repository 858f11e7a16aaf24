package nodelifecycle

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/controller/podutil"
	"skiff.dev/skiff/internal/controller/queue"
)

// Options are the controller's tunables; zero values take Kubernetes'
// defaults (kube-controller-manager's flags of the same names).
type Options struct {
	// Options are the worker count (default 1) and the logger.
	queue.Options
	// NodeMonitorPeriod between checks of every node's health; default 5s.
	NodeMonitorPeriod time.Duration
	// NodeMonitorGracePeriod a node may go without a Lease renewal or a
	// status report before it is marked Unknown; default 40s.
	NodeMonitorGracePeriod time.Duration
	// NodeStartupGracePeriod a node that never reported may take; default 60s.
	NodeStartupGracePeriod time.Duration
	// NodeEvictionRate is how many nodes per second get NoExecute taints in
	// a healthy zone; default 0.1.
	NodeEvictionRate float32
	// SecondaryNodeEvictionRate is the rate in a zone where at least
	// UnhealthyZoneThreshold of the nodes are not Ready, when the cluster
	// is larger than LargeClusterSizeThreshold (else 0); default 0.01.
	SecondaryNodeEvictionRate float32
	// LargeClusterSizeThreshold; default 50.
	LargeClusterSizeThreshold int
	// UnhealthyZoneThreshold; default 0.55.
	UnhealthyZoneThreshold float32
	// Clock defaults to the real clock.
	Clock clock.WithTicker
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.NodeMonitorPeriod, 5*time.Second)
	def(&o.NodeMonitorGracePeriod, 40*time.Second)
	def(&o.NodeStartupGracePeriod, 60*time.Second)
	if o.NodeEvictionRate <= 0 {
		o.NodeEvictionRate = 0.1
	}
	if o.SecondaryNodeEvictionRate <= 0 {
		o.SecondaryNodeEvictionRate = 0.01
	}
	if o.LargeClusterSizeThreshold <= 0 {
		o.LargeClusterSizeThreshold = 50
	}
	if o.UnhealthyZoneThreshold <= 0 {
		o.UnhealthyZoneThreshold = 0.55
	}
	o.Options = o.Options.Defaulted(1)
	o.Clock = cmp.Or[clock.WithTicker](o.Clock, clock.RealClock{})
	return o
}

const (
	nodeLeaseNamespace = "kube-node-lease"
	podNodeIndex       = "nodelifecycle.spec.nodeName"
)

// Controller is the node lifecycle controller.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	opts     Options
	log      *slog.Logger

	nodeLister  corelisters.NodeLister
	leaseLister coordinationlisters.LeaseLister
	podLister   corelisters.PodLister
	podIndexer  cache.Indexer
	synced      []cache.InformerSynced

	// nodeQueue holds node names whose taints to reconcile; podQueue holds
	// pod keys to check for taint eviction.
	nodeQueue workqueue.TypedRateLimitingInterface[string]
	podQueue  workqueue.TypedRateLimitingInterface[string]

	mu        sync.Mutex
	health    map[string]*nodeHealth
	zones     map[string]zoneState
	limiters  map[string]flowcontrol.PassiveRateLimiter
	scheduled map[string]time.Time // pod key -> planned eviction
}

// nodeHealth is what the controller last saw of a node's heartbeats, and
// when (by its own clock).
type nodeHealth struct {
	probe          time.Time
	readyHeartbeat metav1.Time
	leaseRenew     time.Time
}

// New wires the controller's informer event handlers. It starts nothing.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) *Controller {
	opts = opts.withDefaults()
	c := &Controller{
		client:    client,
		recorder:  recorder,
		opts:      opts,
		log:       opts.Logger.With("controller", "nodelifecycle"),
		health:    map[string]*nodeHealth{},
		zones:     map[string]zoneState{},
		limiters:  map[string]flowcontrol.PassiveRateLimiter{},
		scheduled: map[string]time.Time{},
		nodeQueue: queue.New[string]("node_lifecycle_controller", opts.Clock),
		podQueue:  queue.New[string]("node_lifecycle_controller_pods", opts.Clock),
	}
	nodes := factory.Core().V1().Nodes()
	leases := factory.Coordination().V1().Leases()
	pods := factory.Core().V1().Pods()
	c.nodeLister, c.leaseLister, c.podLister = nodes.Lister(), leases.Lister(), pods.Lister()

	podInformer := pods.Informer()
	// An index of that name may already exist if the controller is built
	// twice on one factory; either way the index is there.
	_ = podInformer.AddIndexers(cache.Indexers{podNodeIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}})
	c.podIndexer = podInformer.GetIndexer()
	_, _ = podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podChanged,
		UpdateFunc: func(_, obj any) { c.podChanged(obj) },
	})
	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.nodeChanged,
		UpdateFunc: func(_, obj any) { c.nodeChanged(obj) },
		DeleteFunc: c.nodeChanged,
	})
	c.synced = []cache.InformerSynced{nodes.Informer().HasSynced, leases.Informer().HasSynced, podInformer.HasSynced}
	return c
}

func (c *Controller) nodeChanged(obj any) {
	if n, ok := queue.Deleted[*corev1.Node](obj); ok {
		c.nodeQueue.Add(n.Name)
		c.enqueuePodsOn(n.Name)
	}
}

func (c *Controller) enqueuePodsOn(node string) {
	objs, err := c.podIndexer.ByIndex(podNodeIndex, node)
	if err != nil {
		return
	}
	for _, o := range objs {
		queue.Enqueue(c.podQueue, o)
	}
}

func (c *Controller) podChanged(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return
	}
	node, err := c.nodeLister.Get(pod.Spec.NodeName)
	if err != nil || !hasNoExecute(node.Spec.Taints) {
		c.mu.Lock()
		_, planned := c.scheduled[podutil.Key(pod)]
		c.mu.Unlock()
		if !planned {
			return
		}
	}
	c.podQueue.Add(podutil.Key(pod))
}

// Run waits for the caches, then monitors node health every
// NodeMonitorPeriod and runs Options.Workers goroutines over each of the
// taint and eviction queues until ctx is done.
func (c *Controller) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		if cache.WaitForCacheSync(ctx.Done(), c.synced...) {
			c.monitor(ctx)
		}
	})
	queue.RunWorkers(ctx, c.synced,
		queue.Worker[string]{Queue: c.nodeQueue, SyncAfter: c.syncTaints, Workers: c.opts.Workers, Log: c.log},
		queue.Worker[string]{Queue: c.podQueue, SyncAfter: c.syncPod, Workers: c.opts.Workers, Log: c.log})
	wg.Wait()
}

// monitor runs monitorNodeHealth every NodeMonitorPeriod until ctx is done.
func (c *Controller) monitor(ctx context.Context) {
	t := c.opts.Clock.NewTicker(c.opts.NodeMonitorPeriod)
	defer t.Stop()
	for {
		if err := c.monitorNodeHealth(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("monitoring node health", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// monitorNodeHealth is one pass over all nodes: conditions of silent
// nodes become Unknown, zone states are recomputed, and pods of nodes that
// just stopped being Ready are marked not Ready.
func (c *Controller) monitorNodeHealth(ctx context.Context) error {
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	var errs []error
	seen := make(map[string]bool, len(nodes))
	for _, node := range nodes {
		seen[node.Name] = true
		c.mu.Lock()
		_, known := c.health[node.Name]
		c.mu.Unlock()
		if !known {
			c.recordNodeEvent(node, corev1.EventTypeNormal, "RegisteredNode", fmt.Sprintf("Registered Node %s in Controller", node.Name))
		}
		observed, current, updated, err := c.tryUpdateNodeHealth(ctx, node)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if updated != nil {
			node = updated
		}
		if observed.Status == corev1.ConditionTrue && current != nil && current.Status != corev1.ConditionTrue {
			c.recorder.Eventf(nodeRef(node), corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: %s", node.Name, "NodeNotReady")
		}
		// Level-triggered: every pass, until the node is back, pods of a
		// node that stopped reporting are kept not Ready.
		if current != nil && current.Status == corev1.ConditionUnknown {
			if err := c.markPodsNotReady(ctx, node.Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	c.mu.Lock()
	for name := range c.health {
		if !seen[name] {
			delete(c.health, name)
			c.recorder.Eventf(&corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: name}, corev1.EventTypeNormal, "RemovingNode", "Node %s event: Removing Node %s from Controller", name, name)
		}
	}
	c.mu.Unlock()
	if c.updateZoneStates(nodes) {
		for _, n := range nodes {
			c.nodeQueue.Add(n.Name)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d nodes: first error: %w", len(errs), errs[0])
	}
	return nil
}

func nodeRef(n *corev1.Node) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}
}

func (c *Controller) recordNodeEvent(n *corev1.Node, typ, reason, msg string) {
	c.recorder.Eventf(nodeRef(n), typ, reason, "Node %s event: %s", n.Name, msg)
}

func nodeCondition(st *corev1.NodeStatus, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// tryUpdateNodeHealth checks one node's heartbeats (Ready condition and
// Lease) against the grace period and marks its conditions Unknown when it
// went silent. It returns the Ready condition as observed and as it is now,
// and the updated node when it wrote one.
func (c *Controller) tryUpdateNodeHealth(ctx context.Context, node *corev1.Node) (corev1.NodeCondition, *corev1.NodeCondition, *corev1.Node, error) {
	now := c.opts.Clock.Now()
	ready := nodeCondition(&node.Status, corev1.NodeReady)
	grace := c.opts.NodeMonitorGracePeriod
	observed := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}
	if ready != nil {
		observed = *ready
	} else {
		grace = c.opts.NodeStartupGracePeriod
	}

	c.mu.Lock()
	h := c.health[node.Name]
	switch {
	case h == nil && ready == nil:
		h = &nodeHealth{probe: node.CreationTimestamp.Time}
		c.health[node.Name] = h
	case h == nil:
		h = &nodeHealth{probe: now, readyHeartbeat: ready.LastHeartbeatTime}
		c.health[node.Name] = h
	case ready != nil && !ready.LastHeartbeatTime.Equal(&h.readyHeartbeat):
		h.probe, h.readyHeartbeat = now, ready.LastHeartbeatTime
	}
	if lease, err := c.leaseLister.Leases(nodeLeaseNamespace).Get(node.Name); err == nil && lease.Spec.RenewTime != nil {
		if lease.Spec.RenewTime.Time.After(h.leaseRenew) {
			h.leaseRenew = lease.Spec.RenewTime.Time
			h.probe = now
		}
	}
	expired := now.After(h.probe.Add(grace))
	c.mu.Unlock()

	if !expired {
		return observed, ready, nil, nil
	}
	upd := node.DeepCopy()
	changed := false
	nowT := metav1.NewTime(now)
	if ready == nil {
		upd.Status.Conditions = append(upd.Status.Conditions, corev1.NodeCondition{
			Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
			Reason: "NodeStatusNeverUpdated", Message: "Kubelet never posted node status.",
			LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: nowT,
		})
		changed = true
	} else {
		for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
			cond := nodeCondition(&upd.Status, t)
			switch {
			case cond == nil:
				upd.Status.Conditions = append(upd.Status.Conditions, corev1.NodeCondition{
					Type: t, Status: corev1.ConditionUnknown,
					Reason: "NodeStatusNeverUpdated", Message: "Kubelet never posted node status.",
					LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: nowT,
				})
				changed = true
			case cond.Status != corev1.ConditionUnknown:
				cond.Status = corev1.ConditionUnknown
				cond.Reason = "NodeStatusUnknown"
				cond.Message = "Kubelet stopped posting node status."
				cond.LastTransitionTime = nowT
				changed = true
			}
		}
	}
	if !changed {
		return observed, ready, nil, nil
	}
	c.log.Info("node stopped posting status", "node", node.Name, "gracePeriod", grace)
	got, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if err != nil {
		return observed, ready, nil, fmt.Errorf("update status of node %s: %w", node.Name, err)
	}
	return observed, nodeCondition(&got.Status, corev1.NodeReady), got, nil
}

// markPodsNotReady sets the Ready condition of the node's pods to False, as
// Kubernetes does when a node stops reporting.
func (c *Controller) markPodsNotReady(ctx context.Context, nodeName string) error {
	objs, err := c.podIndexer.ByIndex(podNodeIndex, nodeName)
	if err != nil {
		return fmt.Errorf("pods on node %s: %w", nodeName, err)
	}
	var errs []error
	for _, o := range objs {
		pod := o.(*corev1.Pod).DeepCopy()
		cond := podutil.ReadyCondition(pod)
		if cond == nil || cond.Status == corev1.ConditionFalse {
			continue
		}
		cond.Status = corev1.ConditionFalse
		cond.LastTransitionTime = metav1.NewTime(c.opts.Clock.Now())
		if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("mark pod %s/%s not ready: %w", pod.Namespace, pod.Name, err))
			}
			continue
		}
		c.recorder.Event(pod, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}
