package podsub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	policyclient "k8s.io/client-go/kubernetes/typed/policy/v1"
	"k8s.io/client-go/util/retry"
	podutil "k8s.io/kubectl/pkg/util/podutils"
)

// maxDisruptedPods is how many evictions a budget may hold that its
// controller has not yet seen go through, as Kubernetes.
const maxDisruptedPods = 2000

// evictionRetry is how often an eviction retries a budget update that
// conflicted (another eviction of a pod of the same budget).
var evictionRetry = retry.DefaultRetry

// EvictionREST deletes a pod through the eviction API (kubectl drain),
// unless that would break the PodDisruptionBudget guarding the pod: then it
// answers 429, as Kubernetes. An eviction that goes through takes one off
// the budget's status.disruptionsAllowed and records the pod in
// status.disruptedPods until the disruption controller sees it gone.
type EvictionREST struct {
	pods    *genericregistry.Store
	budgets policyclient.PodDisruptionBudgetsGetter
}

var (
	_ rest.NamedCreater             = &EvictionREST{}
	_ rest.GroupVersionKindProvider = &EvictionREST{}
)

// New implements rest.Storage.
func (r *EvictionREST) New() runtime.Object { return &policyv1.Eviction{} }

// Destroy implements rest.Storage.
func (r *EvictionREST) Destroy() {}

// GroupVersionKind implements rest.GroupVersionKindProvider.
func (r *EvictionREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return policyv1.SchemeGroupVersion.WithKind("Eviction")
}

// verdict is what an eviction does with a pod given the budgets over it.
type verdict int

const (
	// deleteFreely: no budget guards the pod (none matches, or the pod is
	// terminal, pending or already deleting).
	deleteFreely verdict = iota
	// deleteUnhealthy: the pod is not ready and its budget does not count
	// on it; it is deleted only if still the pod judged (resourceVersion).
	deleteUnhealthy
	// spendBudget: a disruption is taken from the budget, then the pod is
	// deleted.
	spendBudget
)

// judge decides what evicting pod does, given the budgets of its
// namespace. More than one matching budget is an error, as in Kubernetes.
func judge(pod *corev1.Pod, budgets []policyv1.PodDisruptionBudget) (verdict, *policyv1.PodDisruptionBudget, error) {
	if budgetsIgnored(pod) {
		return deleteFreely, nil, nil
	}
	var matching []*policyv1.PodDisruptionBudget
	for i := range budgets {
		selector, err := metav1.LabelSelectorAsSelector(budgets[i].Spec.Selector)
		if err != nil || budgets[i].Namespace != pod.Namespace || !selector.Matches(labels.Set(pod.Labels)) {
			continue
		}
		matching = append(matching, &budgets[i])
	}
	switch len(matching) {
	case 0:
		return deleteFreely, nil, nil
	case 1:
	default:
		return 0, nil, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Reason: metav1.StatusReasonInternalError,
			Message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
		}}
	}
	pdb := matching[0]
	if !podutil.IsPodReady(pod) {
		policy := pdb.Spec.UnhealthyPodEvictionPolicy
		if policy != nil && *policy == policyv1.AlwaysAllow {
			return deleteUnhealthy, pdb, nil
		}
		if pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0 {
			return deleteUnhealthy, pdb, nil
		}
	}
	return spendBudget, pdb, nil
}

// mayDisrupt tells whether the budget allows one more disruption now; the
// error is the one Kubernetes answers when it does not.
func mayDisrupt(pdb *policyv1.PodDisruptionBudget) error {
	refuse := func(msg string) error {
		err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause, Message: msg})
		return err
	}
	forbid := func(reason, msg string) error {
		err := apierrors.NewForbidden(policyv1.Resource("poddisruptionbudget"), pdb.Name, errors.New(reason))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause, Message: msg})
		return err
	}
	switch {
	case pdb.Status.ObservedGeneration < pdb.Generation:
		err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause,
			Message: fmt.Sprintf("The disruption budget %s is still being processed by the server.", pdb.Name)})
		return err
	case pdb.Status.DisruptionsAllowed < 0:
		return forbid("pdb disruptions allowed is negative",
			fmt.Sprintf("The disruption budget %s does not allow evicting pods currently: pdb disruptions allowed is negative", pdb.Name))
	case len(pdb.Status.DisruptedPods) > maxDisruptedPods:
		return forbid("DisruptedPods map too big - too many evictions not confirmed by PDB controller",
			fmt.Sprintf("The disruption budget %s does not allow evicting pods currently: too many pending evictions not confirmed by PDB controller", pdb.Name))
	case pdb.Status.DisruptionsAllowed == 0:
		cond := apimeta.FindStatusCondition(pdb.Status.Conditions, policyv1.DisruptionAllowedCondition)
		failed := cond != nil && cond.Status == metav1.ConditionFalse && cond.Message != ""
		switch {
		case failed && cond.Reason == policyv1.SyncFailedReason:
			return refuse(fmt.Sprintf("The disruption budget %s does not allow evicting pods currently because it failed sync: %s", pdb.Name, cond.Message))
		case pdb.Status.CurrentHealthy <= pdb.Status.DesiredHealthy:
			return refuse(fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy))
		case failed:
			return refuse(fmt.Sprintf("The disruption budget %s does not allow evicting pods currently (%s): %s", pdb.Name, cond.Reason, cond.Message))
		default:
			return refuse(fmt.Sprintf("The disruption budget %s does not allow evicting pods currently", pdb.Name))
		}
	}
	return nil
}

// spend takes one disruption off pdb's status for podName at now.
func spend(pdb *policyv1.PodDisruptionBudget, podName string, now time.Time) {
	pdb.Status.DisruptionsAllowed--
	if pdb.Status.DisruptionsAllowed == 0 {
		apimeta.SetStatusCondition(&pdb.Status.Conditions, metav1.Condition{
			Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
			Reason: policyv1.InsufficientPodsReason, ObservedGeneration: pdb.Status.ObservedGeneration,
		})
	}
	if pdb.Status.DisruptedPods == nil {
		pdb.Status.DisruptedPods = map[string]metav1.Time{}
	}
	pdb.Status.DisruptedPods[podName] = metav1.NewTime(now)
}

// Create evicts the pod as the budgets allow, then deletes it with the
// eviction's delete options.
func (r *EvictionREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	eviction, ok := obj.(*policyv1.Eviction)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not an Eviction object: %T", obj))
	}
	if name != eviction.Name {
		return nil, apierrors.NewBadRequest("name in URL does not match name in Eviction object")
	}
	if createValidation != nil {
		if err := createValidation(ctx, eviction.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	deleteOptions := eviction.DeleteOptions
	if deleteOptions == nil {
		deleteOptions = &metav1.DeleteOptions{}
	}
	deleteOptions = deleteOptions.DeepCopy()
	if len(options.DryRun) > 0 {
		deleteOptions.DryRun = options.DryRun
	}
	dryRun := len(deleteOptions.DryRun) > 0
	pod, deleted, err := r.evictIgnoringBudgets(ctx, name, deleteOptions, dryRun)
	if err != nil || deleted {
		return evicted(err)
	}
	v := deleteFreely
	if r.budgets != nil {
		list, err := r.budgets.PodDisruptionBudgets(pod.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("evict %s/%s: list disruption budgets: %w", pod.Namespace, name, err)
		}
		var pdb *policyv1.PodDisruptionBudget
		if v, pdb, err = judge(pod, list.Items); err != nil {
			return nil, err
		}
		if v == spendBudget {
			if err := r.spendBudget(ctx, pdb, pod.Name, dryRun); err != nil {
				return nil, err
			}
		}
	}
	ownPrecondition := false
	if v == deleteUnhealthy && !hasResourceVersion(deleteOptions) {
		// Delete only the pod judged: one turned ready since would count.
		deleteOptions = withResourceVersion(deleteOptions, pod.ResourceVersion)
		ownPrecondition = true
	}
	err = r.delete(ctx, pod, deleteOptions, dryRun)
	if ownPrecondition && apierrors.IsConflict(err) {
		return nil, apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)
	}
	return evicted(err)
}

func evicted(err error) (runtime.Object, error) {
	if err != nil {
		return nil, err
	}
	return &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated}, nil
}

// budgetsIgnored tells whether an eviction deletes pod without looking at
// budgets: it is finished, not yet running, or already being deleted.
func budgetsIgnored(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed ||
		pod.Status.Phase == corev1.PodPending || pod.DeletionTimestamp != nil
}

// evictIgnoringBudgets reads the pod and deletes it if budgets do not guard
// it. A pending pod is deleted only at the version read (it may turn ready
// meanwhile, and then its budget counts); on a conflict it is read and
// judged again, unless the caller set the resourceVersion precondition, as
// in Kubernetes.
func (r *EvictionREST) evictIgnoringBudgets(ctx context.Context, name string, deleteOptions *metav1.DeleteOptions, dryRun bool) (*corev1.Pod, bool, error) {
	shouldRetry := apierrors.IsConflict
	if hasResourceVersion(deleteOptions) {
		shouldRetry = func(error) bool { return false }
	}
	var pod *corev1.Pod
	deleted := false
	err := retry.OnError(evictionRetry, shouldRetry, func() error {
		got, err := r.pods.Get(ctx, name, &metav1.GetOptions{})
		if err != nil {
			return err
		}
		pod = got.(*corev1.Pod)
		if !budgetsIgnored(pod) {
			return nil
		}
		opts := deleteOptions
		if pod.Status.Phase == corev1.PodPending && pod.DeletionTimestamp == nil && !hasResourceVersion(opts) {
			opts = withResourceVersion(opts, pod.ResourceVersion)
		}
		if err := r.delete(ctx, pod, opts, dryRun); err != nil {
			return err
		}
		deleted = true
		return nil
	})
	return pod, deleted, err
}

// delete marks the pod a disruption target and deletes it with opts.
func (r *EvictionREST) delete(ctx context.Context, pod *corev1.Pod, opts *metav1.DeleteOptions, dryRun bool) error {
	if !dryRun {
		if err := r.markDisruptionTarget(ctx, pod, opts.Preconditions); err != nil {
			return err
		}
	}
	_, _, err := r.pods.Delete(ctx, pod.Name, rest.ValidateAllObjectFunc, opts)
	return err
}

func hasResourceVersion(opts *metav1.DeleteOptions) bool {
	return opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil
}

// withResourceVersion is a copy of opts that deletes only at rv.
func withResourceVersion(opts *metav1.DeleteOptions, rv string) *metav1.DeleteOptions {
	opts = opts.DeepCopy()
	if opts.Preconditions == nil {
		opts.Preconditions = &metav1.Preconditions{}
	}
	opts.Preconditions.ResourceVersion = &rv
	return opts
}

// spendBudget takes a disruption from pdb, rereading it on conflicts.
func (r *EvictionREST) spendBudget(ctx context.Context, pdb *policyv1.PodDisruptionBudget, podName string, dryRun bool) error {
	first := true
	err := retry.RetryOnConflict(evictionRetry, func() error {
		if !first {
			latest, err := r.budgets.PodDisruptionBudgets(pdb.Namespace).Get(ctx, pdb.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			pdb = latest
		}
		first = false
		if err := mayDisrupt(pdb); err != nil {
			return err
		}
		if dryRun {
			return nil
		}
		next := pdb.DeepCopy()
		spend(next, podName, time.Now())
		_, err := r.budgets.PodDisruptionBudgets(pdb.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsConflict(err) {
		return apierrors.NewTimeoutError(fmt.Sprintf("couldn't update PodDisruptionBudget %q due to conflicts", pdb.Name), 10)
	}
	return err
}

// markDisruptionTarget sets the pod's DisruptionTarget condition, as
// Kubernetes does before an eviction deletes the pod, if the pod still meets
// the preconditions; a resourceVersion precondition moves to the version
// written.
func (r *EvictionREST) markDisruptionTarget(ctx context.Context, pod *corev1.Pod, pre *metav1.Preconditions) error {
	if pod.DeletionTimestamp != nil {
		return nil
	}
	key, err := r.pods.KeyFunc(ctx, pod.Name)
	if err != nil {
		return err
	}
	update := func(oldObj runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
		p := oldObj.(*corev1.Pod).DeepCopy()
		if pre != nil && pre.UID != nil && *pre.UID != "" && *pre.UID != p.UID {
			return nil, nil, apierrors.NewConflict(corev1.Resource("pods"), pod.Name,
				fmt.Errorf("the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", *pre.UID, p.UID))
		}
		if pre != nil && pre.ResourceVersion != nil && *pre.ResourceVersion != "" && *pre.ResourceVersion != p.ResourceVersion {
			return nil, nil, apierrors.NewConflict(corev1.Resource("pods"), pod.Name,
				fmt.Errorf("the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified", *pre.ResourceVersion, p.ResourceVersion))
		}
		setCondition(p, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting", LastTransitionTime: metav1.Now()})
		return p, nil, nil
	}
	out := &corev1.Pod{}
	if err := r.pods.Storage.GuaranteedUpdate(ctx, key, out, false, nil, update, false, nil); err != nil {
		return err
	}
	if pre != nil && pre.ResourceVersion != nil {
		rv := out.ResourceVersion
		pre.ResourceVersion = &rv
	}
	return nil
}
