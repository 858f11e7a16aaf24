package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/scheduler/framework"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

// DefaultSchedulerName is the spec.schedulerName this scheduler serves by
// default, and the one the API server defaults pods to.
const DefaultSchedulerName = corev1.DefaultSchedulerName

// Event reasons, as kube-scheduler writes them.
const (
	reasonScheduled        = "Scheduled"
	reasonFailedScheduling = "FailedScheduling"
)

// Options tunes the scheduler; zero values mean kube-scheduler's defaults.
type Options struct {
	// SchedulerName selects the pods to schedule by spec.schedulerName;
	// default "default-scheduler".
	SchedulerName string
	// PercentageOfNodesToScore is the share of nodes to find feasible
	// before scoring; 0 is adaptive (see framework.Algorithm).
	PercentageOfNodesToScore int32
	// PodInitialBackoff and PodMaxBackoff bound the back-off of a pod that
	// failed; defaults 1s and 10s.
	PodInitialBackoff time.Duration
	PodMaxBackoff     time.Duration
	// PodMaxInUnschedulablePodsDuration is how long an unschedulable pod
	// waits for a cluster event before it is tried again anyway; default 5m.
	PodMaxInUnschedulablePodsDuration time.Duration
	// BindConcurrency caps the binding and status requests in flight;
	// default 128.
	BindConcurrency int
	// Seed seeds the random choice between equally good nodes; 0 picks one.
	Seed uint64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Clock defaults to the real clock.
	Clock clock.WithTicker
}

func (o *Options) setDefaults() {
	if o.SchedulerName == "" {
		o.SchedulerName = DefaultSchedulerName
	}
	if o.PodInitialBackoff <= 0 {
		o.PodInitialBackoff = time.Second
	}
	if o.PodMaxBackoff <= 0 {
		o.PodMaxBackoff = 10 * time.Second
	}
	if o.PodMaxInUnschedulablePodsDuration <= 0 {
		o.PodMaxInUnschedulablePodsDuration = 5 * time.Minute
	}
	if o.BindConcurrency <= 0 {
		o.BindConcurrency = 128
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// flushInterval is how often pods whose back-off is over return to the
// active queue.
const flushInterval = 100 * time.Millisecond

// Scheduler assigns pending pods to nodes.
type Scheduler struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	opts     Options
	log      *slog.Logger

	synced []cache.InformerSynced
	queue  *schedulingQueue
	cache  *nodeCache
	// snapshot and alg belong to the scheduling loop.
	snapshot *snapshot
	alg      *framework.Algorithm

	metrics *schedulerMetrics
	volumes plugins.VolumeBinding

	// pdbs reads the PodDisruptionBudgets preemption tries to respect.
	pdbs policylisters.PodDisruptionBudgetLister

	requests chan struct{} // semaphore over API requests in flight
	wg       sync.WaitGroup
}

// New wires the scheduler's informer event handlers on factory's pod and
// node informers. It starts nothing; the caller starts the factory and Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) *Scheduler {
	opts.setDefaults()
	s := &Scheduler{
		client:   client,
		recorder: recorder,
		opts:     opts,
		log:      opts.Logger.With("component", "scheduler"),
		queue:    newSchedulingQueue(opts.Clock, opts.PodInitialBackoff, opts.PodMaxBackoff, opts.PodMaxInUnschedulablePodsDuration),
		cache:    newNodeCache(),
		snapshot: newSnapshot(),
		volumes: plugins.VolumeBinding{
			Claims:  factory.Core().V1().PersistentVolumeClaims().Lister(),
			Volumes: factory.Core().V1().PersistentVolumes().Lister(),
			Classes: factory.Storage().V1().StorageClasses().Lister(),
		},
		metrics:  processMetrics(),
		requests: make(chan struct{}, opts.BindConcurrency),
	}
	s.alg = framework.NewAlgorithm(withVolumeBinding(plugins.Default(), s.volumes), opts.PercentageOfNodesToScore, opts.Seed)
	s.queue.report = s.metrics.setPending
	// Every queue's gauge exists from the start, at 0, as kube-scheduler's.
	s.metrics.setPending(0, 0, 0)
	pods := factory.Core().V1().Pods().Informer()
	nodes := factory.Core().V1().Nodes().Informer()
	pdbs := factory.Policy().V1().PodDisruptionBudgets()
	s.pdbs = pdbs.Lister()
	s.synced = []cache.InformerSynced{pods.HasSynced, nodes.HasSynced, pdbs.Informer().HasSynced}
	s.synced = append(s.synced, s.watchVolumes(factory)...)

	// Assigned pods fill the cache; their going away may make room.
	_, _ = pods.AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			pod := podOf(obj)
			return pod != nil && pod.Spec.NodeName != "" && !terminal(pod)
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { s.cache.addPod(obj.(*corev1.Pod)) },
			UpdateFunc: func(_, obj any) { s.cache.addPod(obj.(*corev1.Pod)) },
			DeleteFunc: func(obj any) {
				if pod := podOf(obj); pod != nil {
					s.cache.removePod(pod.UID)
					s.queue.moveAll()
				}
			},
		},
	})
	// Pending pods of this scheduler fill the queue.
	_, _ = pods.AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			pod := podOf(obj)
			return pod != nil && pod.Spec.NodeName == "" && !terminal(pod) &&
				pod.Spec.SchedulerName == s.opts.SchedulerName && pod.DeletionTimestamp == nil
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { s.queue.add(obj.(*corev1.Pod)) },
			UpdateFunc: func(old, obj any) { s.queue.update(old.(*corev1.Pod), obj.(*corev1.Pod)) },
			DeleteFunc: func(obj any) {
				if pod := podOf(obj); pod != nil {
					s.queue.delete(pod.UID)
				}
			},
		},
	})
	_, _ = nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			s.cache.setNode(obj.(*corev1.Node))
			s.queue.moveAll()
		},
		UpdateFunc: func(old, obj any) {
			oldNode, node := old.(*corev1.Node), obj.(*corev1.Node)
			s.cache.setNode(node)
			if nodeSchedulingChanged(oldNode, node) {
				s.queue.moveAll()
			}
		},
		DeleteFunc: func(obj any) {
			if node := nodeOf(obj); node != nil {
				s.cache.removeNode(node.Name)
			}
		},
	})
	return s
}

// Run waits for the informers' caches, then schedules pods one at a time
// until ctx is done, and waits for the bindings in flight.
func (s *Scheduler) Run(ctx context.Context) {
	defer runtime.HandleCrash()
	s.log.Info("starting scheduler", "schedulerName", s.opts.SchedulerName)
	defer s.log.Info("stopped scheduler")
	defer s.wg.Wait()
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		s.queue.close()
		return
	}
	go s.queue.run(ctx, s.opts.Clock, flushInterval)
	for s.scheduleOne(ctx) {
	}
}

// scheduleOne places the next pod; false when the queue is closed.
func (s *Scheduler) scheduleOne(ctx context.Context) bool {
	qp, pod, ok := s.queue.pop()
	if !ok {
		return false
	}
	if s.cache.known(pod.UID) {
		// Already placed; this was an update racing with the binding.
		s.queue.done(qp)
		return true
	}
	start := s.opts.Clock.Now()
	pi := framework.NewPodInfo(pod)
	s.cache.updateSnapshot(s.snapshot)
	n, err := s.alg.Schedule(ctx, pi, s.snapshot.list)
	s.metrics.algorithmDuration.Observe(s.opts.Clock.Since(start).Seconds())
	var fitErr *framework.FitError
	if errors.As(err, &fitErr) {
		// Evicting pods of lower priority may make room: the pod then
		// waits for them to go, nominated to the node.
		s.preempt(ctx, pi)
	}
	if err != nil {
		s.failed(ctx, qp, pod, err, start)
		return true
	}
	node := n.Node().Name
	placed, err := s.cache.assume(pi, node)
	if err != nil {
		s.failed(ctx, qp, pod, err, start)
		return true
	}
	if !placed {
		s.queue.done(qp)
		return true
	}
	s.async(func() { s.bind(ctx, qp, pod, node, start) })
	return true
}

// async runs f in the background, at most BindConcurrency at a time.
func (s *Scheduler) async(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.requests <- struct{}{}
		defer func() { <-s.requests }()
		f()
	}()
}

// bind binds pod to node; the attempt began at start.
func (s *Scheduler) bind(ctx context.Context, qp *queuedPod, pod *corev1.Pod, node string, start time.Time) {
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	if err := s.bindVolumes(ctx, pod, node); err != nil {
		// As a failed PreBind of kube-scheduler's VolumeBinding: the
		// attempt fails and the pod is tried again after a back-off. A
		// conflict here is a claim another controller wrote meanwhile
		// (the StatefulSet controller sets its owner references), not a
		// pod already bound.
		s.bindFailed(ctx, qp, pod, node, start, fmt.Errorf("running PreBind plugin %q: %w", "VolumeBinding", err))
		return
	}
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	if err == nil {
		now := s.opts.Clock.Now()
		s.metrics.attempt(s.opts.SchedulerName, resultScheduled, now.Sub(start))
		s.metrics.scheduled(qp.attempts, now.Sub(qp.added))
		s.queue.done(qp)
		s.recorder.Eventf(pod, corev1.EventTypeNormal, reasonScheduled, "Successfully assigned %v/%v to %v", pod.Namespace, pod.Name, node)
		return
	}
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Deleted or already bound: nothing to retry.
		s.cache.forget(pod.UID)
		s.queue.moveAll()
		s.log.Info("binding not done", "pod", klogKey(pod), "node", node, "err", err)
		s.queue.done(qp)
		return
	}
	s.bindFailed(ctx, qp, pod, node, start, err)
}

// bindFailed forgets pod's place on node and tries the pod again after a
// back-off: binding it, in the attempt that began at start, failed with err.
func (s *Scheduler) bindFailed(ctx context.Context, qp *queuedPod, pod *corev1.Pod, node string, start time.Time, err error) {
	// The pod's place is free again for others.
	s.cache.forget(pod.UID)
	s.queue.moveAll()
	if ctx.Err() != nil {
		s.log.Info("binding not done", "pod", klogKey(pod), "node", node, "err", err)
		s.queue.done(qp)
		return
	}
	level := slog.LevelError
	if apierrors.IsConflict(err) {
		level = slog.LevelInfo // a claim written meanwhile: the retry reads it anew
	}
	s.log.Log(ctx, level, "binding failed", "pod", klogKey(pod), "node", node, "err", err)
	s.metrics.attempt(s.opts.SchedulerName, resultError, s.opts.Clock.Since(start))
	msg := fmt.Sprintf("Binding rejected: %v", err)
	s.recorder.Event(pod, corev1.EventTypeWarning, reasonFailedScheduling, msg)
	s.setUnschedulable(ctx, pod, corev1.PodReasonSchedulerError, msg)
	s.queue.addBackoff(qp)
}

// failed records why pod could not be placed in the attempt that began at
// start: a FailedScheduling event and the PodScheduled condition, and
// requeues it.
func (s *Scheduler) failed(ctx context.Context, qp *queuedPod, pod *corev1.Pod, err error, start time.Time) {
	var fitErr *framework.FitError
	reason := corev1.PodReasonSchedulerError
	if errors.As(err, &fitErr) || errors.Is(err, framework.ErrNoNodesAvailable) {
		reason = corev1.PodReasonUnschedulable
		s.metrics.attempt(s.opts.SchedulerName, resultUnschedulable, s.opts.Clock.Since(start))
		s.queue.addUnschedulable(qp)
	} else {
		s.metrics.attempt(s.opts.SchedulerName, resultError, s.opts.Clock.Since(start))
		s.queue.addBackoff(qp)
	}
	msg := err.Error()
	s.log.Debug("unable to schedule pod", "pod", klogKey(pod), "reason", reason, "message", msg)
	s.recorder.Event(pod, corev1.EventTypeWarning, reasonFailedScheduling, msg)
	s.async(func() { s.setUnschedulable(ctx, pod, reason, msg) })
}

func klogKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

func podOf(obj any) *corev1.Pod {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, _ := obj.(*corev1.Pod)
	return pod
}

func nodeOf(obj any) *corev1.Node {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	node, _ := obj.(*corev1.Node)
	return node
}

func terminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
