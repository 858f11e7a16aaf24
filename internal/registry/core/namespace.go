package core

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/registry/store"
)

func namespaceKind() *store.Kind {
	return &store.Kind{
		Resource:       groupResource("namespaces"),
		Kind:           "Namespace",
		New:            func() runtime.Object { return &corev1.Namespace{} },
		NewList:        func() runtime.Object { return &corev1.NamespaceList{} },
		ShortNames:     []string{"ns"},
		NameValidation: apivalidation.ValidateNamespaceName,

		PrepareForCreate: prepareNamespaceForCreate,
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			ns, oldNs := obj.(*corev1.Namespace), old.(*corev1.Namespace)
			// spec.finalizers change through the finalize subresource only.
			ns.Spec.Finalizers = oldNs.Spec.Finalizers
			ns.Generation = oldNs.Generation
			setNamespaceNameLabel(ns)
		},
		Validate:             validateNamespace,
		ValidateUpdate:       func(_ context.Context, _, _ runtime.Object) field.ErrorList { return nil },
		ValidateStatusUpdate: validateNamespaceStatusUpdate,

		ShouldDeleteDuringUpdate: shouldDeleteNamespaceDuringUpdate,
		Extend:                   extendNamespaceStorage,

		Columns: []metav1.TableColumnDefinition{
			col("Status", "string", "The status of the namespace"),
			store.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			ns := obj.(*corev1.Namespace)
			return []interface{}{string(ns.Status.Phase), store.Age(ns.CreationTimestamp)}, nil
		},
		SelectableFields: func(obj runtime.Object) fields.Set {
			ns := obj.(*corev1.Namespace)
			// "name" is a historical alias Kubernetes keeps supporting.
			return fields.Set{"status.phase": string(ns.Status.Phase), "name": ns.Name}
		},
	}
}

// setDefaultsNamespace labels a named namespace with its name and starts
// its phase Active.
func setDefaultsNamespace(ns *corev1.Namespace) {
	setNamespaceNameLabel(ns)
	if ns.Status.Phase == "" {
		ns.Status.Phase = corev1.NamespaceActive
	}
}

func setNamespaceNameLabel(ns *corev1.Namespace) {
	if ns.Name == "" {
		return
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
}

// prepareNamespaceForCreate makes a new namespace Active with the
// "kubernetes" finalizer, which the namespace controller removes once the
// namespace's content is gone.
func prepareNamespaceForCreate(_ context.Context, obj runtime.Object) {
	ns := obj.(*corev1.Namespace)
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	ns.Generation = 0
	has := false
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			has = true
			break
		}
	}
	if !has {
		ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
	}
	setNamespaceNameLabel(ns)
}

func validateNamespace(_ context.Context, obj runtime.Object) field.ErrorList {
	ns := obj.(*corev1.Namespace)
	var errs field.ErrorList
	for _, f := range ns.Spec.Finalizers {
		// Kubernetes reports these at the list's path.
		errs = append(errs, ValidateFinalizerName(string(f), field.NewPath("spec", "finalizers"))...)
	}
	return errs
}

// ValidateFinalizerName checks a namespace finalizer: a qualified name, and
// unqualified only for the standard "kubernetes" one.
func ValidateFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	errs := apivalidation.ValidateFinalizerName(name, fldPath)
	if !strings.Contains(name, "/") && name != string(corev1.FinalizerKubernetes) {
		errs = append(errs, field.Invalid(fldPath, name, "name is neither a standard finalizer name nor is it fully qualified"))
	}
	return errs
}

func validateNamespaceStatusUpdate(_ context.Context, obj, _ runtime.Object) field.ErrorList {
	ns := obj.(*corev1.Namespace)
	phasePath := field.NewPath("status", "Phase")
	if ns.DeletionTimestamp.IsZero() {
		if ns.Status.Phase != corev1.NamespaceActive {
			return field.ErrorList{field.Invalid(phasePath, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty")}
		}
	} else if ns.Status.Phase != corev1.NamespaceTerminating {
		return field.ErrorList{field.Invalid(phasePath, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")}
	}
	return nil
}
