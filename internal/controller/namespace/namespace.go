// Package namespace is the namespace controller: it empties a namespace
// that is being deleted and then releases it. For a Terminating namespace
// that still carries the "kubernetes" spec finalizer it discovers every
// namespaced resource the API server serves, deletes their content
// (deletecollection, or one by one where that verb is missing), reports
// progress in the namespace's status conditions as Kubernetes does, and,
// once nothing is left, removes its finalizer through the finalize
// subresource, which lets the API server remove the namespace.
//
// Dependents of deleted objects are the garbage collector's business; this
// controller deletes with propagationPolicy=Background and waits for every
// object to be gone.
package namespace

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/controller/queue"
)

// Options tunes the controller; zero values mean Kubernetes' defaults.
type Options struct {
	// Options are the worker count (default 10) and the logger.
	queue.Options
	// FinalizerEstimate is how long objects held by finalizers are expected
	// to take to go; the namespace is looked at again after half of it plus
	// a second. Defaults to 15s, as Kubernetes.
	FinalizerEstimate time.Duration
	// Clock defaults to the real clock.
	Clock clock.PassiveClock
}

// Controller deletes the content of terminating namespaces.
type Controller struct {
	client    kubernetes.Interface
	metadata  metadata.Interface
	discovery discovery.ServerResourcesInterface
	lister    corelisters.NamespaceLister
	synced    cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	opts      Options
	log       *slog.Logger
}

// New wires the controller to the namespace informer of factory. Content
// is listed and deleted through metadataClient; resources are discovered
// through client's discovery client.
func New(client kubernetes.Interface, metadataClient metadata.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	if opts.FinalizerEstimate <= 0 {
		opts.FinalizerEstimate = 15 * time.Second
	}
	opts.Options = opts.Options.Defaulted(10)
	opts.Clock = cmp.Or[clock.PassiveClock](opts.Clock, clock.RealClock{})
	informer := factory.Core().V1().Namespaces()
	c := &Controller{
		client:    client,
		metadata:  metadataClient,
		discovery: client.Discovery(),
		lister:    informer.Lister(),
		synced:    informer.Informer().HasSynced,
		queue:     queue.New[string]("namespace", nil),
		opts:      opts,
		log:       opts.Logger.With("controller", "namespace"),
	}
	_, _ = informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
	})
	return c
}

func (c *Controller) enqueue(obj interface{}) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || ns.DeletionTimestamp == nil {
		return
	}
	c.queue.Add(ns.Name)
}

// Run waits for the namespace cache, then runs Options.Workers goroutines
// until ctx is done.
func (c *Controller) Run(ctx context.Context) {
	queue.RunWorkers(ctx, []cache.InformerSynced{c.synced},
		queue.Worker[string]{Queue: c.queue, SyncAfter: c.syncAfter, Workers: c.opts.Workers, Log: c.log})
}

// syncAfter is sync, with content that is still going turned into a
// requeue after the time it is expected to take.
func (c *Controller) syncAfter(ctx context.Context, name string) (time.Duration, error) {
	err := c.sync(ctx, name)
	var remaining *contentRemainingError
	if errors.As(err, &remaining) {
		c.log.Debug("content remains", "namespace", name, "wait", remaining.wait)
		return remaining.wait, nil
	}
	return 0, err
}

// contentRemainingError says the content is going but not gone yet.
type contentRemainingError struct {
	wait time.Duration
}

func (e *contentRemainingError) Error() string {
	return fmt.Sprintf("some content remains in the namespace, looking again in %s", e.wait)
}

// sync deletes the content of one terminating namespace and finalizes it.
func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get namespace %s: %w", name, err)
	}
	if cached.DeletionTimestamp == nil {
		return nil
	}
	// Several writers touch a terminating namespace; start from the live one.
	ns, err := c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get namespace %s: %w", name, err)
	}
	if ns.DeletionTimestamp == nil || !hasFinalizer(ns) {
		return nil
	}
	if ns.Status.Phase != corev1.NamespaceTerminating {
		if ns, err = c.updateStatus(ctx, ns, func(ns *corev1.Namespace) bool {
			ns.Status.Phase = corev1.NamespaceTerminating
			return true
		}); err != nil {
			return err
		}
	}

	result := c.deleteAllContent(ctx, ns.Name)
	if _, err := c.updateStatus(ctx, ns, func(ns *corev1.Namespace) bool {
		return updateConditions(&ns.Status, result.conditions(), c.opts.Clock.Now())
	}); err != nil {
		return err
	}
	if len(result.errs) > 0 {
		return fmt.Errorf("delete content of namespace %s: %w", name, errors.Join(result.errs...))
	}
	if result.wait > 0 {
		return &contentRemainingError{wait: result.wait}
	}
	return c.finalize(ctx, ns)
}

func hasFinalizer(ns *corev1.Namespace) bool {
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return true
		}
	}
	return false
}

// updateStatus applies change to the latest namespace and writes its status
// when change reports a difference, retrying on conflicts.
func (c *Controller) updateStatus(ctx context.Context, ns *corev1.Namespace, change func(*corev1.Namespace) bool) (*corev1.Namespace, error) {
	latest := ns.DeepCopy()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !change(latest) {
			return nil
		}
		updated, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, latest, metav1.UpdateOptions{})
		if err == nil {
			latest = updated
			return nil
		}
		if apierrors.IsConflict(err) {
			if fresh, getErr := c.client.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{}); getErr == nil {
				latest = fresh
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update status of namespace %s: %w", ns.Name, err)
	}
	return latest, nil
}

// finalize takes the "kubernetes" finalizer out of spec.finalizers; the API
// server removes the namespace when nothing else holds it.
func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) error {
	latest := ns.DeepCopy()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var keep []corev1.FinalizerName
		for _, f := range latest.Spec.Finalizers {
			if f != corev1.FinalizerKubernetes {
				keep = append(keep, f)
			}
		}
		latest.Spec.Finalizers = keep
		_, err := c.client.CoreV1().Namespaces().Finalize(ctx, latest, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			fresh, getErr := c.client.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
			if getErr != nil {
				return getErr
			}
			latest = fresh
		}
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finalize namespace %s: %w", ns.Name, err)
	}
	c.log.Info("namespace finalized", "namespace", ns.Name)
	return nil
}

// deletion is what one pass over a namespace's content found.
type deletion struct {
	discoveryErr error
	gvParseErr   error
	// errs are the failures to delete content, one per resource.
	errs []error
	// remaining counts objects still present per resource, and
	// finalizers the objects still carry.
	remaining  map[schema.GroupVersionResource]int
	finalizers map[string]int
	// wait is how long until the remaining content is expected gone.
	wait time.Duration
}

// deleteAllContent deletes every namespaced object of the namespace and
// counts what is left.
func (c *Controller) deleteAllContent(ctx context.Context, namespace string) *deletion {
	d := &deletion{remaining: map[schema.GroupVersionResource]int{}, finalizers: map[string]int{}}
	lists, err := c.discovery.ServerPreferredNamespacedResources()
	if err != nil {
		d.discoveryErr = err
		if !discovery.IsGroupDiscoveryFailedError(err) {
			// Nothing usable was discovered.
			d.errs = append(d.errs, err)
			return d
		}
	}
	deletable := discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"list", "delete"}}, lists)
	gvrs, err := discovery.GroupVersionResources(deletable)
	if err != nil {
		d.gvParseErr = err
	}
	collection := sets.New[schema.GroupVersionResource]()
	for _, l := range deletable {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if sets.New(r.Verbs...).Has("deletecollection") {
				collection.Insert(gv.WithResource(r.Name))
			}
		}
	}
	ordered := make([]schema.GroupVersionResource, 0, len(gvrs))
	for gvr := range gvrs {
		ordered = append(ordered, gvr)
	}
	sort.Slice(ordered, func(i, j int) bool { return ordered[i].String() < ordered[j].String() })
	for _, gvr := range ordered {
		c.deleteResource(ctx, d, gvr, namespace, collection.Has(gvr))
	}
	return d
}

// deleteResource deletes the objects of one resource in the namespace and
// records what remains.
func (c *Controller) deleteResource(ctx context.Context, d *deletion, gvr schema.GroupVersionResource, namespace string, useCollection bool) {
	client := c.metadata.Resource(gvr).Namespace(namespace)
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	deleted := false
	if useCollection {
		err := client.DeleteCollection(ctx, opts, metav1.ListOptions{})
		switch {
		case err == nil:
			deleted = true
		case apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err):
		default:
			d.errs = append(d.errs, fmt.Errorf("delete collection of %s in %s: %w", gvr, namespace, err))
			return
		}
	}
	if !deleted {
		list, err := client.List(ctx, metav1.ListOptions{})
		if apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err) {
			return
		}
		if err != nil {
			d.errs = append(d.errs, fmt.Errorf("list %s in %s: %w", gvr, namespace, err))
			return
		}
		for _, item := range list.Items {
			if item.DeletionTimestamp != nil {
				continue
			}
			uid := item.UID
			o := opts
			o.Preconditions = &metav1.Preconditions{UID: &uid}
			if err := client.Delete(ctx, item.Name, o); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				d.errs = append(d.errs, fmt.Errorf("delete %s %s/%s: %w", gvr, namespace, item.Name, err))
				return
			}
		}
	}

	list, err := client.List(ctx, metav1.ListOptions{})
	if err != nil {
		if !apierrors.IsMethodNotSupported(err) && !apierrors.IsNotFound(err) {
			d.errs = append(d.errs, fmt.Errorf("list %s in %s: %w", gvr, namespace, err))
		}
		return
	}
	if len(list.Items) == 0 {
		return
	}
	d.remaining[gvr] = len(list.Items)
	now := c.opts.Clock.Now()
	var wait time.Duration
	withFinalizers, unexplained := false, 0
	for _, item := range list.Items {
		for _, f := range item.Finalizers {
			d.finalizers[f]++
			withFinalizers = true
		}
		if item.DeletionTimestamp != nil && len(item.Finalizers) == 0 {
			// Graceful deletion (pods): due at the end of its grace period.
			due := item.DeletionTimestamp.Time
			if item.DeletionGracePeriodSeconds != nil {
				due = due.Add(time.Duration(*item.DeletionGracePeriodSeconds) * time.Second)
			}
			wait = max(wait, due.Sub(now))
		} else if len(item.Finalizers) == 0 {
			unexplained++
		}
	}
	if withFinalizers {
		wait = max(wait, c.opts.FinalizerEstimate)
	}
	if unexplained > 0 && wait == 0 {
		d.errs = append(d.errs, fmt.Errorf("unexpected items still remain in namespace: %s for gvr: %v", namespace, gvr))
		return
	}
	// Look again half way through, as Kubernetes does.
	d.wait = max(d.wait, wait/2+time.Second)
}

// conditions turns what a pass found into the namespace's deletion
// conditions; a type absent from the result is healthy.
func (d *deletion) conditions() []corev1.NamespaceCondition {
	var out []corev1.NamespaceCondition
	if d.discoveryErr != nil {
		msg := d.discoveryErr.Error()
		var gf *discovery.ErrGroupDiscoveryFailed
		if errors.As(d.discoveryErr, &gf) {
			msg = fmt.Sprintf("Discovery failed for some groups, %d failing: %v", len(gf.Groups), d.discoveryErr)
		}
		out = append(out, corev1.NamespaceCondition{Type: corev1.NamespaceDeletionDiscoveryFailure,
			Status: corev1.ConditionTrue, Reason: "DiscoveryFailed", Message: msg})
	}
	if d.gvParseErr != nil {
		out = append(out, corev1.NamespaceCondition{Type: corev1.NamespaceDeletionGVParsingFailure,
			Status: corev1.ConditionTrue, Reason: "GroupVersionParsingFailed", Message: d.gvParseErr.Error()})
	}
	if len(d.errs) > 0 {
		msgs := make([]string, 0, len(d.errs))
		for _, err := range d.errs {
			msgs = append(msgs, err.Error())
		}
		sort.Strings(msgs)
		out = append(out, corev1.NamespaceCondition{Type: corev1.NamespaceDeletionContentFailure,
			Status: corev1.ConditionTrue, Reason: "ContentDeletionFailed",
			Message: fmt.Sprintf("Failed to delete all resource types, %d remaining: %s", len(d.errs), strings.Join(msgs, ", "))})
	}
	var remaining []string
	for gvr, n := range d.remaining {
		remaining = append(remaining, fmt.Sprintf("%s.%s has %d resource instances", gvr.Resource, gvr.Group, n))
	}
	if len(remaining) > 0 {
		sort.Strings(remaining)
		out = append(out, corev1.NamespaceCondition{Type: corev1.NamespaceContentRemaining,
			Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain",
			Message: "Some resources are remaining: " + strings.Join(remaining, ", ")})
	}
	var finalizers []string
	for f, n := range d.finalizers {
		finalizers = append(finalizers, fmt.Sprintf("%s in %d resource instances", f, n))
	}
	if len(finalizers) > 0 {
		sort.Strings(finalizers)
		out = append(out, corev1.NamespaceCondition{Type: corev1.NamespaceFinalizersRemaining,
			Status: corev1.ConditionTrue, Reason: "SomeFinalizersRemain",
			Message: "Some content in the namespace has finalizers remaining: " + strings.Join(finalizers, ", ")})
	}
	return out
}

// conditionTypes are the conditions this controller owns, in the order
// Kubernetes lists them.
var conditionTypes = []corev1.NamespaceConditionType{
	corev1.NamespaceDeletionDiscoveryFailure,
	corev1.NamespaceDeletionGVParsingFailure,
	corev1.NamespaceDeletionContentFailure,
	corev1.NamespaceContentRemaining,
	corev1.NamespaceFinalizersRemaining,
}

// healthy are the condition reasons and messages when all is well.
var healthy = map[corev1.NamespaceConditionType][2]string{
	corev1.NamespaceDeletionDiscoveryFailure: {"ResourcesDiscovered", "All resources successfully discovered"},
	corev1.NamespaceDeletionGVParsingFailure: {"ParsedGroupVersions", "All legacy kube types successfully parsed"},
	corev1.NamespaceDeletionContentFailure:   {"ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
	corev1.NamespaceContentRemaining:         {"ContentRemoved", "All content successfully removed"},
	corev1.NamespaceFinalizersRemaining:      {"ContentHasNoFinalizers", "All content-preserving finalizers finished"},
}

// updateConditions sets every owned condition on status, from found or
// healthy, and reports whether anything changed. lastTransitionTime moves
// only when a condition's status does.
func updateConditions(status *corev1.NamespaceStatus, found []corev1.NamespaceCondition, now time.Time) bool {
	changed := false
	for _, t := range conditionTypes {
		want := corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: healthy[t][0], Message: healthy[t][1]}
		for _, f := range found {
			if f.Type == t {
				want = f
			}
		}
		want.LastTransitionTime = metav1.NewTime(now)
		i := 0
		for i < len(status.Conditions) && status.Conditions[i].Type != t {
			i++
		}
		if i == len(status.Conditions) {
			status.Conditions = append(status.Conditions, want)
			changed = true
			continue
		}
		old := &status.Conditions[i]
		if old.Status == want.Status && old.Reason == want.Reason && old.Message == want.Message {
			continue
		}
		if old.Status == want.Status {
			want.LastTransitionTime = old.LastTransitionTime
		}
		*old = want
		changed = true
	}
	return changed
}
