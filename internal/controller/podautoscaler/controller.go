package podautoscaler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/controller/queue"
)

// Kubernetes' defaults of the controller's flags.
const (
	DefaultSyncPeriod              = 15 * time.Second
	DefaultDownscaleStabilization  = 5 * time.Minute
	DefaultTolerance               = 0.1
	DefaultCPUInitializationPeriod = 5 * time.Minute
	DefaultInitialReadinessDelay   = 30 * time.Second
)

// discoveryRefresh is how often the custom metrics API version is looked
// up again.
const discoveryRefresh = time.Minute

// Options tunes the controller (kube-controller-manager's
// --horizontal-pod-autoscaler-* flags). Zero values mean the defaults above;
// a zero tolerance therefore cannot be asked for (use a tiny one).
type Options struct {
	queue.Options
	// SyncPeriod is how often every HPA is looked at.
	SyncPeriod time.Duration
	// DownscaleStabilization is the scale-down stabilization window of
	// HPAs whose behavior does not set one.
	DownscaleStabilization time.Duration
	// Tolerance is how far from 1.0 the usage ratio may be before the
	// replica count changes (a behavior rule's tolerance overrides it).
	Tolerance float64
	// CPUInitializationPeriod is how long after start a pod's CPU samples
	// are only trusted when the pod is ready and was ready over the whole
	// sample window.
	CPUInitializationPeriod time.Duration
	// InitialReadinessDelay is how long after start an unready pod counts
	// as never having been ready (its CPU is then ignored).
	InitialReadinessDelay time.Duration
	// Clock defaults to the real clock.
	Clock clock.WithTicker
}

func (o Options) defaulted() Options {
	o.Options = o.Options.Defaulted(5)
	o.SyncPeriod = cmp.Or(o.SyncPeriod, DefaultSyncPeriod)
	o.DownscaleStabilization = cmp.Or(o.DownscaleStabilization, DefaultDownscaleStabilization)
	o.Tolerance = cmp.Or(o.Tolerance, DefaultTolerance)
	o.CPUInitializationPeriod = cmp.Or(o.CPUInitializationPeriod, DefaultCPUInitializationPeriod)
	o.InitialReadinessDelay = cmp.Or(o.InitialReadinessDelay, DefaultInitialReadinessDelay)
	o.Clock = cmp.Or[clock.WithTicker](o.Clock, clock.RealClock{})
	return o
}

// Mapper maps the kind of a scale target to its resources; Reset forgets
// what discovery said so that a kind served later is found.
type Mapper interface {
	RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error)
	Reset()
}

// Controller is the HorizontalPodAutoscaler controller.
type Controller struct {
	client   kubernetes.Interface
	scales   scale.ScalesGetter
	mapper   Mapper
	metrics  MetricsSource
	recorder record.EventRecorder
	hpas     autoscalinglisters.HorizontalPodAutoscalerLister
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	opts     Options
	log      *slog.Logger

	// background runs beside the workers (the metrics clients' discovery
	// refresh) until ctx ends.
	background []func(ctx context.Context, period time.Duration)

	mu        sync.Mutex
	histories map[string]*history
}

// New wires the controller to the informers; the caller starts the
// factory. Targets are read and scaled through scales, found through
// mapper; metrics are read from metrics.
func New(client kubernetes.Interface, scales scale.ScalesGetter, mapper Mapper, metrics MetricsSource,
	factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) *Controller {
	opts = opts.defaulted()
	hpaInformer := factory.Autoscaling().V2().HorizontalPodAutoscalers()
	podInformer := factory.Core().V1().Pods()
	c := &Controller{
		client:    client,
		scales:    scales,
		mapper:    mapper,
		metrics:   metrics,
		recorder:  recorder,
		hpas:      hpaInformer.Lister(),
		pods:      podInformer.Lister(),
		synced:    []cache.InformerSynced{hpaInformer.Informer().HasSynced, podInformer.Informer().HasSynced},
		queue:     queue.New[string]("horizontalpodautoscaler", opts.Clock),
		opts:      opts,
		log:       opts.Logger.With("controller", "horizontal-pod-autoscaler"),
		histories: map[string]*history{},
	}
	_, _ = hpaInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { queue.Enqueue(c.queue, obj) },
		UpdateFunc: func(old, cur any) {
			// A status write of this controller changes no generation: the
			// HPA is looked at again on its sync period.
			if old.(*autoscalingv2.HorizontalPodAutoscaler).Generation != cur.(*autoscalingv2.HorizontalPodAutoscaler).Generation {
				queue.Enqueue(c.queue, cur)
			}
		},
		DeleteFunc: func(obj any) { queue.Enqueue(c.queue, obj) },
	})
	return c
}

// Run syncs HPAs until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	for _, fn := range c.background {
		go fn(ctx, discoveryRefresh)
	}
	queue.RunWorkers(ctx, c.synced, queue.Worker[string]{
		Queue: c.queue, SyncAfter: c.sync, Workers: c.opts.Workers, Log: c.log,
	})
}

func (c *Controller) history(key string) *history {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.histories[key]
	if !ok {
		h = &history{}
		c.histories[key] = h
	}
	return h
}

// sync reconciles one HPA and asks to look at it again after the sync
// period. A failure to reach the target or its metrics is reported on the
// HPA (conditions, events) and logged, and waits for the next period like
// Kubernetes' controller rather than backing off faster.
func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, queue.Terminal(err)
	}
	cached, err := c.hpas.HorizontalPodAutoscalers(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.mu.Lock()
		delete(c.histories, key)
		c.mu.Unlock()
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	hpa := cached.DeepCopy()
	now := c.opts.Clock.Now()
	var o outcome
	recErr := c.reconcile(ctx, key, hpa, &o, now)
	for _, cond := range o.conditions {
		setCondition(&hpa.Status, cond, now)
	}
	hpa.Status.ObservedGeneration = &hpa.Generation
	for _, e := range o.events {
		c.recorder.Event(hpa, e.typ, e.reason, e.message)
	}
	if !equality.Semantic.DeepEqual(cached.Status, hpa.Status) {
		if _, err := c.client.AutoscalingV2().HorizontalPodAutoscalers(ns).UpdateStatus(ctx, hpa, metav1.UpdateOptions{}); err != nil {
			c.recorder.Event(hpa, corev1.EventTypeWarning, "FailedUpdateStatus", err.Error())
			return 0, fmt.Errorf("update status of HPA %s: %w", key, err)
		}
	}
	if recErr != nil {
		c.log.Warn("autoscaling failed", "key", key, "err", recErr)
	}
	return c.opts.SyncPeriod, nil
}

// reconcile reads the target's scale and the metrics, decides the replica
// count, scales, and fills hpa.Status; the conditions and events it
// decides go to o.
func (c *Controller) reconcile(ctx context.Context, key string, hpa *autoscalingv2.HorizontalPodAutoscaler, o *outcome, now time.Time) error {
	ref := hpa.Spec.ScaleTargetRef
	reference := fmt.Sprintf("%s/%s/%s", ref.Kind, hpa.Namespace, ref.Name)
	sc, gr, err := c.getScale(ctx, hpa.Namespace, ref)
	if err != nil {
		o.warn("FailedGetScale", errors.Unwrap(err).Error())
		o.set(autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale",
			"the HPA controller was unable to get the target's current scale: %v", errors.Unwrap(err))
		return err
	}
	o.set(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale")
	current := sc.Spec.Replicas
	h := c.history(key)
	h.recordInitial(current, now)
	minReplicas := int32(1)
	if hpa.Spec.MinReplicas != nil {
		minReplicas = *hpa.Spec.MinReplicas
	}

	var (
		desired  int32
		reason   string
		statuses []autoscalingv2.MetricStatus
		retErr   error
		rescale  = true
	)
	switch {
	case current == 0 && minReplicas != 0:
		rescale = false
		o.set(autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
	case current > hpa.Spec.MaxReplicas:
		reason, desired = "Current number of replicas above Spec.MaxReplicas", hpa.Spec.MaxReplicas
	case current < minReplicas:
		reason, desired = "Current number of replicas below Spec.MinReplicas", minReplicas
	default:
		var (
			proposal int32
			metric   string
		)
		proposal, metric, statuses, err = c.proposal(ctx, hpa, sc, o, now)
		if err != nil && proposal == -1 {
			setStatus(hpa, current, hpa.Status.DesiredReplicas, statuses, false, now)
			o.warn("FailedComputeMetricsReplicas", err.Error())
			return fmt.Errorf("failed to compute desired number of replicas based on listed metrics for %s: %w", reference, err)
		}
		retErr = err
		rescaleMetric := ""
		if proposal > desired {
			desired, rescaleMetric = proposal, metric
		}
		if desired > current {
			reason = rescaleMetric + " above target"
		}
		if desired < current {
			reason = "All metrics below target"
		}
		var l limit
		if hpa.Spec.Behavior == nil {
			l = h.normalize(current, desired, minReplicas, hpa.Spec.MaxReplicas, c.opts.DownscaleStabilization, now)
		} else {
			l = h.normalizeWithBehavior(hpa.Spec.Behavior, current, desired, minReplicas, hpa.Spec.MaxReplicas, c.opts.DownscaleStabilization, now)
		}
		o.set(autoscalingv2.AbleToScale, corev1.ConditionTrue, l.ableReason, "%s", l.ableMessage)
		limited := corev1.ConditionFalse
		if l.limited {
			limited = corev1.ConditionTrue
		}
		o.set(autoscalingv2.ScalingLimited, limited, l.limitReason, "%s", l.limitMessage)
		desired = l.replicas
		rescale = desired != current
	}

	if !rescale {
		setStatus(hpa, current, current, statuses, false, now)
		return retErr
	}
	sc.Spec.Replicas = desired
	if _, err := c.scales.Scales(hpa.Namespace).Update(ctx, gr, sc, metav1.UpdateOptions{}); err != nil {
		o.events = append(o.events, event{corev1.EventTypeWarning, "FailedRescale",
			fmt.Sprintf("New size: %d; reason: %s; error: %v", desired, reason, err)})
		o.set(autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedUpdateScale", "the HPA controller was unable to update the target scale: %v", err)
		setStatus(hpa, current, hpa.Status.DesiredReplicas, statuses, false, now)
		return fmt.Errorf("failed to rescale %s: %w", reference, err)
	}
	o.set(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", "the HPA controller was able to update the target scale to %d", desired)
	o.events = append(o.events, event{corev1.EventTypeNormal, "SuccessfulRescale", fmt.Sprintf("New size: %d; reason: %s", desired, reason)})
	h.recordScale(hpa.Spec.Behavior, current, desired, now)
	c.log.Info("scaled", "hpa", key, "target", reference, "from", current, "to", desired, "reason", reason)
	setStatus(hpa, current, desired, statuses, true, now)
	return retErr
}

// proposal validates the target's selector, lists its pods and computes
// the metrics' proposal.
func (c *Controller) proposal(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, sc *autoscalingv1.Scale, o *outcome,
	now time.Time) (int32, string, []autoscalingv2.MetricStatus, error) {
	if sc.Status.Selector == "" {
		o.warn("SelectorRequired", "selector is required")
		o.set(autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidSelector", "the HPA target's scale is missing a selector")
		return -1, "", nil, errors.New("selector is required")
	}
	selector, err := labels.Parse(sc.Status.Selector)
	if err != nil {
		msg := fmt.Sprintf("couldn't convert selector into a corresponding internal selector object: %v", err)
		o.warn("InvalidSelector", msg)
		o.set(autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidSelector", "%s", msg)
		return -1, "", nil, errors.New(msg)
	}
	pods, err := c.pods.Pods(hpa.Namespace).List(selector)
	if err != nil {
		return -1, "", nil, fmt.Errorf("unable to get pods while calculating replica count: %w", err)
	}
	calc := calculator{src: c.metrics, rules: podRules{
		tolerances:              c.tolerances(hpa.Spec.Behavior),
		cpuInitializationPeriod: c.opts.CPUInitializationPeriod,
		initialReadinessDelay:   c.opts.InitialReadinessDelay,
		now:                     now,
	}}
	t := target{namespace: hpa.Namespace, specReplicas: sc.Spec.Replicas, statusReplicas: sc.Status.Replicas, selector: selector, pods: pods}
	return calc.metricsProposal(ctx, hpa.Spec.Metrics, t, o)
}

// tolerances are the controller's tolerance, overridden per direction by
// the behavior's rules.
func (c *Controller) tolerances(b *autoscalingv2.HorizontalPodAutoscalerBehavior) tolerances {
	t := tolerances{down: c.opts.Tolerance, up: c.opts.Tolerance}
	if b == nil {
		return t
	}
	if b.ScaleDown != nil && b.ScaleDown.Tolerance != nil {
		t.down = b.ScaleDown.Tolerance.AsApproximateFloat64()
	}
	if b.ScaleUp != nil && b.ScaleUp.Tolerance != nil {
		t.up = b.ScaleUp.Tolerance.AsApproximateFloat64()
	}
	return t
}

// getScale reads the target's scale subresource through each resource its
// kind maps to. The error wraps the cause with the step that failed.
func (c *Controller) getScale(ctx context.Context, ns string, ref autoscalingv2.CrossVersionObjectReference) (*autoscalingv1.Scale, schema.GroupResource, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, schema.GroupResource{}, fmt.Errorf("invalid API version in scale target reference: %w", err)
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: ref.Kind}
	mappings, err := c.mapper.RESTMappings(gk)
	if err != nil {
		c.mapper.Reset()
		mappings, err = c.mapper.RESTMappings(gk)
	}
	if err != nil {
		return nil, schema.GroupResource{}, fmt.Errorf("unable to determine resource for scale target reference: %w", err)
	}
	var first error
	for _, m := range mappings {
		gr := m.Resource.GroupResource()
		sc, err := c.scales.Scales(ns).Get(ctx, gr, ref.Name, metav1.GetOptions{})
		if err == nil {
			return sc, gr, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = fmt.Errorf("no resource serves %s", gk)
	}
	return nil, schema.GroupResource{}, fmt.Errorf("failed to query scale subresource for %s/%s/%s: %w", ref.Kind, ns, ref.Name, first)
}

// setStatus writes the replica counts and metrics; lastScaleTime moves
// when the target was rescaled.
func setStatus(hpa *autoscalingv2.HorizontalPodAutoscaler, current, desired int32, metrics []autoscalingv2.MetricStatus, rescaled bool, now time.Time) {
	hpa.Status.CurrentReplicas = current
	hpa.Status.DesiredReplicas = desired
	hpa.Status.CurrentMetrics = metrics
	if rescaled {
		t := metav1.NewTime(now)
		hpa.Status.LastScaleTime = &t
	}
}

// setCondition sets a condition of the status; its transition time moves
// only when its status changes.
func setCondition(status *autoscalingv2.HorizontalPodAutoscalerStatus, c condition, now time.Time) {
	for i := range status.Conditions {
		existing := &status.Conditions[i]
		if existing.Type != c.typ {
			continue
		}
		if existing.Status != c.status {
			existing.LastTransitionTime = metav1.NewTime(now)
		}
		existing.Status, existing.Reason, existing.Message = c.status, c.reason, c.message
		return
	}
	status.Conditions = append(status.Conditions, autoscalingv2.HorizontalPodAutoscalerCondition{
		Type: c.typ, Status: c.status, Reason: c.reason, Message: c.message, LastTransitionTime: metav1.NewTime(now),
	})
}
