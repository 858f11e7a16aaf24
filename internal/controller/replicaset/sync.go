package replicaset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/internal/controller/controllerref"
	"skiff.dev/skiff/internal/controller/podutil"
	"skiff.dev/skiff/internal/controller/queue"
)

// Event reasons, as Kubernetes' pod control writes them.
const (
	reasonSuccessfulCreate = "SuccessfulCreate"
	reasonFailedCreate     = "FailedCreate"
	reasonSuccessfulDelete = "SuccessfulDelete"
	reasonFailedDelete     = "FailedDelete"
)

// sync reconciles one ReplicaSet, named by its namespace/name key.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.rsLister.ReplicaSets(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("replicaset %s: %w", key, err)
	}
	needsSync := c.exp.Satisfied(key)
	selector, err := metav1.LabelSelectorAsSelector(cached.Spec.Selector)
	if err != nil {
		// Validation prevents this; nothing to do until the spec changes.
		c.log.Error("invalid selector", "replicaset", key, "err", err)
		return nil
	}
	all, err := c.pods.Pods(namespace).List(labels.Everything())
	if err != nil {
		return errorf(cached, "listing pods: %w", err)
	}
	var active, terminating []*corev1.Pod
	for _, p := range all {
		switch {
		case podutil.IsActive(p):
			active = append(active, p)
		case podutil.IsTerminating(p):
			if ref := metav1.GetControllerOf(p); ref != nil && ref.UID == cached.UID && selector.Matches(labels.Set(p.Labels)) {
				terminating = append(terminating, p)
			}
		}
	}
	claimer := controllerref.Claimer[*appsv1.ReplicaSet, *corev1.Pod]{
		Owner:       cached,
		Kind:        controllerKind,
		Selector:    selector,
		OwnerClient: c.client.AppsV1().ReplicaSets(namespace),
		ChildClient: c.client.CoreV1().Pods(namespace),
		ChildKind:   "pod",
	}
	owned, err := claimer.Claim(ctx, active)
	if err != nil {
		return err
	}
	var manageErr error
	if needsSync && cached.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, owned, cached, key)
	}
	rs := cached.DeepCopy()
	status := c.calculateStatus(rs, owned, terminating, manageErr)
	updated, err := c.updateStatus(ctx, rs, status)
	if err != nil {
		return err
	}
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 &&
		updated.Status.ReadyReplicas == replicas(updated) && updated.Status.AvailableReplicas != replicas(updated) {
		queue.EnqueueAfter(c.queue, updated, time.Duration(updated.Spec.MinReadySeconds)*time.Second)
	}
	return manageErr
}

func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// manageReplicas creates or deletes pods so that the active pods that rs
// controls number spec.replicas.
func (c *Controller) manageReplicas(ctx context.Context, owned []*corev1.Pod, rs *appsv1.ReplicaSet, key string) error {
	diff := len(owned) - int(replicas(rs))
	switch {
	case diff < 0:
		n := min(-diff, c.burst)
		c.exp.ExpectCreations(key, n)
		created, err := slowStartBatch(n, 1, func() error { return c.createPod(ctx, rs) })
		// Creations that were never attempted or failed will never be
		// observed; stop waiting for them.
		for range n - created {
			c.exp.CreationObserved(key)
		}
		return err
	case diff > 0:
		n := min(diff, c.burst)
		related, err := c.relatedPods(rs)
		if err != nil {
			return err
		}
		victims := podsToDelete(owned, related, n, c.clock.Now())
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i] = podutil.Key(p)
		}
		c.exp.ExpectDeletions(key, keys)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for _, p := range victims {
			wg.Go(func() {
				if err := c.deletePodFor(ctx, rs, p); err != nil {
					c.exp.DeletionObserved(key, podutil.Key(p))
					if !apierrors.IsNotFound(err) {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	return nil
}

// slowStartBatch calls fn count times, first once, then in batches that
// double while every call succeeds, so that a failing quota or admission
// rejects one call rather than hundreds. It returns how many calls
// succeeded and the first error.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	remaining, ok := count, 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		errCh := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Go(func() {
				if err := fn(); err != nil {
					errCh <- err
				}
			})
		}
		wg.Wait()
		ok += batch - len(errCh)
		if len(errCh) > 0 {
			return ok, <-errCh
		}
		remaining -= batch
	}
	return ok, nil
}

// newPod builds a pod from the ReplicaSet's template, owned by it.
func newPod(rs *appsv1.ReplicaSet) *corev1.Pod {
	t := rs.Spec.Template.DeepCopy()
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    rs.Name + "-",
			Namespace:       rs.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, controllerKind)},
		},
		Spec: t.Spec,
	}
}

func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet) error {
	pod := newPod(rs)
	if len(pod.Labels) == 0 {
		return errorf(rs, "unable to create pods, no labels")
	}
	created, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		// A namespace being deleted refuses new pods; that is expected.
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		c.recorder.Eventf(rs, corev1.EventTypeWarning, reasonFailedCreate, "Error creating: %v", err)
		return errorf(rs, "creating pod: %w", err)
	}
	c.log.Debug("created pod", "replicaset", rs.Namespace+"/"+rs.Name, "pod", created.Name)
	c.recorder.Eventf(rs, corev1.EventTypeNormal, reasonSuccessfulCreate, "Created pod: %v", created.Name)
	return nil
}

func (c *Controller) deletePodFor(ctx context.Context, rs *appsv1.ReplicaSet, p *corev1.Pod) error {
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &p.UID},
	})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		c.recorder.Eventf(rs, corev1.EventTypeWarning, reasonFailedDelete, "Error deleting: %v", err)
		return errorf(rs, "deleting pod %s: %w", p.Name, err)
	}
	c.recorder.Eventf(rs, corev1.EventTypeNormal, reasonSuccessfulDelete, "Deleted pod: %v", p.Name)
	return nil
}

// relatedPods returns the active pods controlled by rs or by its siblings
// (ReplicaSets with the same controller, e.g. the other revisions of a
// Deployment), for the co-location part of the deletion ranking.
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) ([]*corev1.Pod, error) {
	uids := map[types.UID]bool{rs.UID: true}
	if owner := metav1.GetControllerOf(rs); owner != nil {
		siblings, err := c.rsLister.ReplicaSets(rs.Namespace).List(labels.Everything())
		if err != nil {
			return nil, errorf(rs, "listing replicasets: %w", err)
		}
		for _, s := range siblings {
			if ref := metav1.GetControllerOf(s); ref != nil && ref.UID == owner.UID {
				uids[s.UID] = true
			}
		}
	}
	pods, err := c.pods.Pods(rs.Namespace).List(labels.Everything())
	if err != nil {
		return nil, errorf(rs, "listing pods: %w", err)
	}
	var out []*corev1.Pod
	for _, p := range pods {
		if ref := metav1.GetControllerOf(p); ref != nil && uids[ref.UID] && podutil.IsActive(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// calculateStatus derives the status from the pods rs controls.
func (c *Controller) calculateStatus(rs *appsv1.ReplicaSet, owned, terminating []*corev1.Pod, manageErr error) appsv1.ReplicaSetStatus {
	s := *rs.Status.DeepCopy()
	template := labels.SelectorFromSet(rs.Spec.Template.Labels)
	now := c.clock.Now()
	var labeled, ready, available int32
	for _, p := range owned {
		if template.Matches(labels.Set(p.Labels)) {
			labeled++
		}
		if podutil.IsReady(p) {
			ready++
			if podutil.IsAvailable(p, rs.Spec.MinReadySeconds, now) {
				available++
			}
		}
	}
	failure := replicaFailure(s)
	switch {
	case manageErr != nil && failure == nil:
		reason := ""
		if diff := len(owned) - int(replicas(rs)); diff < 0 {
			reason = "FailedCreate"
		} else if diff > 0 {
			reason = "FailedDelete"
		}
		s.Conditions = append(s.Conditions, appsv1.ReplicaSetCondition{
			Type:               appsv1.ReplicaSetReplicaFailure,
			Status:             corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now),
			Reason:             reason,
			Message:            failureMessage(manageErr),
		})
	case manageErr == nil && failure != nil:
		var kept []appsv1.ReplicaSetCondition
		for _, cond := range s.Conditions {
			if cond.Type != appsv1.ReplicaSetReplicaFailure {
				kept = append(kept, cond)
			}
		}
		s.Conditions = kept
	}
	s.Replicas = int32(len(owned))
	s.FullyLabeledReplicas = labeled
	s.ReadyReplicas = ready
	s.AvailableReplicas = available
	n := int32(len(terminating))
	s.TerminatingReplicas = &n
	return s
}

// failureMessage is the API server's message when err carries one (as
// Kubernetes shows it in the condition), else the whole error.
func failureMessage(err error) string {
	var st *apierrors.StatusError
	if errors.As(err, &st) {
		return st.Error()
	}
	return err.Error()
}

func replicaFailure(s appsv1.ReplicaSetStatus) *appsv1.ReplicaSetCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == appsv1.ReplicaSetReplicaFailure {
			return &s.Conditions[i]
		}
	}
	return nil
}

// updateStatus writes status through the status subresource when it
// differs from what is stored, retrying once on a fresh copy.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	status.ObservedGeneration = rs.Generation
	if apiequality.Semantic.DeepEqual(rs.Status, status) {
		return rs, nil
	}
	client := c.client.AppsV1().ReplicaSets(rs.Namespace)
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		rs.Status = status
		updated, err := client.UpdateStatus(ctx, rs, metav1.UpdateOptions{})
		if err == nil {
			return updated, nil
		}
		lastErr = err
		fresh, err := client.Get(ctx, rs.Name, metav1.GetOptions{})
		if err != nil {
			break
		}
		rs = fresh
	}
	return nil, errorf(rs, "updating status: %w", lastErr)
}
