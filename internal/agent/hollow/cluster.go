package hollow

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

const (
	nodeNameIndex = "spec.nodeName"
	// kubeletComponent is the source component of the nodes' events.
	kubeletComponent = "kubelet"
)

// Cluster is a set of hollow nodes sharing one pod informer and one
// workqueue of pod keys.
type Cluster struct {
	client kubernetes.Interface
	opts   Options
	nodes  map[string]*node // fixed at New; the *node fields have their own lock
	order  []*node

	podIndexer cache.Indexer
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	queue      workqueue.TypedRateLimitingInterface[string]

	mu         sync.Mutex
	runCtx     context.Context
	runs       map[string]*podRun // by pod key
	pending    int                // nodes not yet registered once
	registered chan struct{}
}

// New prepares a Cluster; Run starts it.
func New(client kubernetes.Interface, opts Options) (*Cluster, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		client:     client,
		opts:       opts,
		nodes:      make(map[string]*node, len(opts.Names)),
		runs:       map[string]*podRun{},
		pending:    len(opts.Names),
		registered: make(chan struct{}),
	}
	for i, name := range opts.Names {
		n := &node{name: name, index: i, ip: nthAddr(opts.NodeIPRange, uint64(i)+1).String(), port: opts.KubeletPort}
		c.nodes[name] = n
		c.order = append(c.order, n)
	}
	if c.pending == 0 {
		close(c.registered)
	}
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "hollow-pods", Clock: opts.Clock},
	)
	return c, nil
}

// Run simulates the nodes until ctx is done.
func Run(ctx context.Context, client kubernetes.Interface, opts Options) error {
	c, err := New(client, opts)
	if err != nil {
		return err
	}
	return c.Run(ctx)
}

// Names returns the names of the simulated nodes.
func (c *Cluster) Names() []string { return append([]string(nil), c.opts.Names...) }

// Registered is closed once every node has registered once.
func (c *Cluster) Registered() <-chan struct{} { return c.registered }

func (c *Cluster) registeredOne() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending--
	if c.pending == 0 {
		close(c.registered)
	}
}

// Run starts the informers, registers the nodes, and runs their heartbeats
// and the pod workers until ctx is done.
func (c *Cluster) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactory(c.client, 0)
	podInformer := factory.Core().V1().Pods().Informer()
	if err := podInformer.AddIndexers(cache.Indexers{nodeNameIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}}); err != nil {
		return fmt.Errorf("hollow: pod indexer: %w", err)
	}
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueuePod,
		UpdateFunc: func(_, obj any) { c.enqueuePod(obj) },
		DeleteFunc: c.enqueuePod,
	}); err != nil {
		return fmt.Errorf("hollow: pod handler: %w", err)
	}
	c.podIndexer = podInformer.GetIndexer()
	c.podLister = corelisters.NewPodLister(c.podIndexer)
	nodeInformer := factory.Core().V1().Nodes()
	c.nodeLister = nodeInformer.Lister()
	if c.opts.WaitForPodCIDR {
		if _, err := nodeInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    c.nodeChanged,
			UpdateFunc: func(_, obj any) { c.nodeChanged(obj) },
		}); err != nil {
			return fmt.Errorf("hollow: node handler: %w", err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("hollow: %v cache did not sync: %w", typ, ctx.Err())
		}
	}

	// One broadcaster for all the nodes; each records as its kubelet.
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	for _, n := range c.order {
		n.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: kubeletComponent, Host: n.name})
	}

	var wg sync.WaitGroup
	if c.opts.ClientCA != nil {
		stats, err := c.listenStats(ctx)
		if err != nil {
			return err
		}
		wg.Go(func() { stats.serve(ctx) })
	}
	c.mu.Lock()
	c.runCtx = ctx
	c.mu.Unlock()
	for _, n := range c.order {
		c.startNode(ctx, &wg, n)
	}
	for range c.opts.Workers {
		wg.Go(func() {
			for c.processNext(ctx) {
			}
		})
	}
	<-ctx.Done()
	c.queue.ShutDown()
	c.mu.Lock()
	c.runCtx = nil
	c.mu.Unlock()
	wg.Wait()
	return nil
}

func (c *Cluster) startNode(ctx context.Context, wg *sync.WaitGroup, n *node) {
	nctx, cancel := context.WithCancel(ctx)
	n.mu.Lock()
	n.cancel = cancel
	n.mu.Unlock()
	run := func() { c.beat(nctx, n) }
	if wg != nil {
		wg.Go(run)
	} else {
		go run()
	}
}

// Stop stops one node as if its machine died: no more lease renewals,
// status reports or pod updates. It reports whether the node was running.
func (c *Cluster) Stop(name string) bool {
	n := c.nodes[name]
	if n == nil {
		return false
	}
	n.mu.Lock()
	cancel := n.cancel
	n.cancel = nil
	n.mu.Unlock()
	if cancel == nil {
		return false
	}
	cancel()
	return true
}

// Start restarts a node that Stop stopped, while the Cluster runs. It
// reports whether the node was restarted.
func (c *Cluster) Start(name string) bool {
	n := c.nodes[name]
	c.mu.Lock()
	ctx := c.runCtx
	c.mu.Unlock()
	if n == nil || ctx == nil {
		return false
	}
	n.mu.Lock()
	running := n.cancel != nil
	n.mu.Unlock()
	if running {
		return false
	}
	c.startNode(ctx, nil, n)
	return true
}

// nodeChanged takes the pod CIDR the node IPAM controller gave one of our
// nodes, and brings back the node's pods that waited for it.
func (c *Cluster) nodeChanged(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	n := c.nodes[node.Name]
	if n == nil {
		return
	}
	if c.takePodCIDR(n, node) {
		c.enqueueNodePods(n.name)
	}
}

func (c *Cluster) enqueuePod(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok || c.nodes[pod.Spec.NodeName] == nil {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(pod)
	if err == nil {
		c.queue.Add(key)
	}
}

func (c *Cluster) enqueueNodePods(name string) {
	objs, err := c.podIndexer.ByIndex(nodeNameIndex, name)
	if err != nil {
		return
	}
	for _, obj := range objs {
		c.enqueuePod(obj)
	}
}

func (c *Cluster) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	after, err := c.syncPod(ctx, key)
	switch {
	case err != nil:
		if ctx.Err() == nil && !apierrors.IsConflict(err) {
			c.opts.Logger.Warn("hollow pod sync failed", "pod", key, "err", err)
		}
		c.queue.AddRateLimited(key)
	default:
		c.queue.Forget(key)
		if after > 0 {
			c.queue.AddAfter(key, after)
		}
	}
	return true
}

// forget drops the simulated state of a pod that is gone.
func (c *Cluster) forget(key string) {
	c.mu.Lock()
	r := c.runs[key]
	delete(c.runs, key)
	c.mu.Unlock()
	if r != nil {
		if n := c.nodes[r.node]; n != nil {
			if a := n.allocator(); a != nil {
				a.release(r.uid)
			}
		}
	}
}

// syncPod makes one pod's status what its node would report. It returns
// when to look at the pod again.
func (c *Cluster) syncPod(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	pod, err := c.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.forget(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := c.nodes[pod.Spec.NodeName]
	if n == nil || !n.active() {
		return 0, nil // not ours, or its node is down
	}
	alloc := n.allocator()
	if alloc == nil && !pod.Spec.HostNetwork {
		// No pod CIDR yet (Options.WaitForPodCIDR): the pod waits for one,
		// as on a node whose network plugin has no range; the node's
		// update when it gets one brings the pod back.
		if pod.DeletionTimestamp == nil {
			return 0, nil
		}
		return 0, c.finalDelete(ctx, key, pod)
	}
	now := c.opts.Clock.Now()

	c.mu.Lock()
	r := c.runs[key]
	c.mu.Unlock()
	if r != nil && r.uid != pod.UID {
		c.forget(key)
		r = nil
	}
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if terminal && pod.DeletionTimestamp == nil {
		// Finished: the kubelet leaves it alone; its address is free again.
		c.forget(key)
		return 0, nil
	}
	if r == nil {
		r = newPodRun(pod, now)
		r.node = n.name
		c.mu.Lock()
		c.runs[key] = r
		c.mu.Unlock()
	}

	cfg := simConfig{runTime: c.opts.ContainerRunTime, backOff: c.opts.RestartBackOff, nodeIP: n.ip, keepGoing: pod.DeletionTimestamp == nil}
	switch {
	case pod.Spec.HostNetwork:
		cfg.podIP = n.ip
	default:
		if ip, perr := netip.ParseAddr(pod.Status.PodIP); perr == nil {
			alloc.claim(pod.UID, ip)
		}
		ip, aerr := alloc.allocate(pod.UID)
		if aerr != nil {
			return 0, fmt.Errorf("pod %s on node %s: %w", key, n.name, aerr)
		}
		cfg.podIP = ip.String()
	}

	if !terminal {
		wake := r.advance(pod, now, cfg)
		recordEvents(n.recorder, pod, r.takeEvents())
		names, starts := r.running(pod, cfg.keepGoing)
		r.usage.update(now, simulatedUsage(pod, names, c.opts.PodCPU, c.opts.PodMemory), starts)
		st, wake2 := r.status(pod, now, cfg)
		if wake.IsZero() || (!wake2.IsZero() && wake2.Before(wake)) {
			wake = wake2
		}
		if !apiequality.Semantic.DeepEqual(st, pod.Status) {
			upd := pod.DeepCopy()
			upd.Status = st
			if _, err := c.client.CoreV1().Pods(ns).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
				if apierrors.IsNotFound(err) {
					c.forget(key)
					return 0, nil
				}
				return 0, fmt.Errorf("update status of pod %s: %w", key, err)
			}
		}
		if pod.DeletionTimestamp == nil {
			if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
				alloc.release(pod.UID)
				return 0, nil
			}
			if wake.IsZero() {
				return 0, nil
			}
			// A hair late, so that a readiness delay has surely passed.
			return max(wake.Sub(now), 0) + 10*time.Millisecond, nil
		}
	}

	// Being deleted and stopped: the kubelet's final delete.
	return 0, c.finalDelete(ctx, key, pod)
}

// recordEvents records what the node's kubelet did to the pod.
func recordEvents(rec record.EventRecorder, pod *corev1.Pod, evs []podEvent) {
	if rec == nil {
		return
	}
	for _, ev := range evs {
		ref := &corev1.ObjectReference{
			Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
			ResourceVersion: pod.ResourceVersion, FieldPath: ev.fieldPath,
		}
		rec.Event(ref, ev.eventType, ev.reason, ev.message)
	}
}

// finalDelete removes a stopped pod that is being deleted, as the kubelet's
// final delete does.
func (c *Cluster) finalDelete(ctx context.Context, key string, pod *corev1.Pod) error {
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To(int64(0)),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s: %w", key, err)
	}
	c.forget(key)
	return nil
}
