// Package policy serves the policy API group: PodDisruptionBudget, with
// Kubernetes' validation (k8s.io/kubernetes/pkg/apis/policy/validation on a
// converted copy), its status subresource and kubectl's columns. The
// disruption controller keeps its status; the eviction subresource of pods
// reads it.
package policy

import (
	"context"
	"fmt"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	policyinternal "k8s.io/kubernetes/pkg/apis/policy"
	policyinternalv1 "k8s.io/kubernetes/pkg/apis/policy/v1"
	policyvalidation "k8s.io/kubernetes/pkg/apis/policy/validation"

	"skiff.dev/skiff/internal/registry/store"
)

// GroupName is the API group this package serves.
const GroupName = policyv1.GroupName

// Kinds returns the kinds this group serves.
func Kinds() []*store.Kind {
	return []*store.Kind{podDisruptionBudgetKind()}
}

// RegisterDefaults registers the defaulting functions of this group's
// types; policy/v1 PodDisruptionBudget has none.
func RegisterDefaults(*runtime.Scheme) {}

func podDisruptionBudgetKind() *store.Kind {
	return &store.Kind{
		Resource:   schema.GroupResource{Group: GroupName, Resource: "poddisruptionbudgets"},
		Kind:       "PodDisruptionBudget",
		Namespaced: true,
		New:        func() runtime.Object { return &policyv1.PodDisruptionBudget{} },
		NewList:    func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} },
		ShortNames: []string{"pdb"},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validate(obj.(*policyv1.PodDisruptionBudget), false)
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validate(obj.(*policyv1.PodDisruptionBudget), invalidSelectorLabels(old.(*policyv1.PodDisruptionBudget)))
		},
		ValidateStatusUpdate: func(ctx context.Context, obj, old runtime.Object) field.ErrorList {
			var in, oldIn policyinternal.PodDisruptionBudgetStatus
			if err := policyinternalv1.Convert_v1_PodDisruptionBudgetStatus_To_policy_PodDisruptionBudgetStatus(&obj.(*policyv1.PodDisruptionBudget).Status, &in, nil); err != nil {
				return field.ErrorList{field.InternalError(field.NewPath("status"), err)}
			}
			if err := policyinternalv1.Convert_v1_PodDisruptionBudgetStatus_To_policy_PodDisruptionBudgetStatus(&old.(*policyv1.PodDisruptionBudget).Status, &oldIn, nil); err != nil {
				return field.ErrorList{field.InternalError(field.NewPath("status"), err)}
			}
			return policyvalidation.ValidatePodDisruptionBudgetStatusUpdate(in, oldIn, field.NewPath("status"), policyv1.SchemeGroupVersion)
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Min Available", Type: "string", Description: "The minimum number of pods that must be available."},
			{Name: "Max Unavailable", Type: "string", Description: "The maximum number of pods that may be unavailable."},
			{Name: "Allowed Disruptions", Type: "integer", Description: "Calculated number of pods that may be disrupted at this time."},
			store.AgeColumn,
		},
		Row: pdbRow,
	}
}

// validate runs Kubernetes' PodDisruptionBudget validation on the internal
// copy; allowInvalidLabels keeps accepting a selector already stored with
// label values that are no longer valid, as Kubernetes' update does.
func validate(pdb *policyv1.PodDisruptionBudget, allowInvalidLabels bool) field.ErrorList {
	var in policyinternal.PodDisruptionBudget
	if err := policyinternalv1.Convert_v1_PodDisruptionBudget_To_policy_PodDisruptionBudget(pdb, &in, nil); err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("spec"), err)}
	}
	return policyvalidation.ValidatePodDisruptionBudget(&in, policyvalidation.PodDisruptionBudgetValidationOptions{
		AllowInvalidLabelValueInSelector: allowInvalidLabels,
	})
}

func invalidSelectorLabels(pdb *policyv1.PodDisruptionBudget) bool {
	if pdb.Spec.Selector == nil {
		return false
	}
	var in metav1.LabelSelector
	pdb.Spec.Selector.DeepCopyInto(&in)
	_, err := metav1.LabelSelectorAsSelector(&in)
	return err != nil
}

// pdbRow renders MIN AVAILABLE, MAX UNAVAILABLE, ALLOWED DISRUPTIONS, AGE.
func pdbRow(obj runtime.Object) ([]interface{}, error) {
	pdb, ok := obj.(*policyv1.PodDisruptionBudget)
	if !ok {
		return nil, fmt.Errorf("table row: unexpected type %T", obj)
	}
	minAvailable, maxUnavailable := "N/A", "N/A"
	if pdb.Spec.MinAvailable != nil {
		minAvailable = pdb.Spec.MinAvailable.String()
	}
	if pdb.Spec.MaxUnavailable != nil {
		maxUnavailable = pdb.Spec.MaxUnavailable.String()
	}
	return []interface{}{minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed), store.Age(pdb.CreationTimestamp)}, nil
}
