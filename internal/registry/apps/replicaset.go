package apps

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/registry/store"
)

func replicaSetKind() *store.Kind {
	return &store.Kind{
		Resource:   appsv1.SchemeGroupVersion.WithResource("replicasets").GroupResource(),
		Kind:       "ReplicaSet",
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.ReplicaSet{} },
		NewList:    func() runtime.Object { return &appsv1.ReplicaSetList{} },
		ShortNames: []string{"rs"},
		Categories: []string{"all"},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateReplicaSetSpec(&obj.(*appsv1.ReplicaSet).Spec, specPath)
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			rs, o := obj.(*appsv1.ReplicaSet), old.(*appsv1.ReplicaSet)
			errs := validateReplicaSetSpec(&rs.Spec, specPath)
			return append(errs, validateSelectorUnchanged(rs.Spec.Selector, o.Spec.Selector)...)
		},
		ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateReplicaSetStatus(&obj.(*appsv1.ReplicaSet).Status, statusPath)
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Desired", Type: "integer", Description: appsv1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]},
			{Name: "Current", Type: "integer", Description: appsv1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]},
			{Name: "Ready", Type: "integer", Description: appsv1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]},
			store.AgeColumn,
			containersColumn,
			imagesColumn,
			selectorColumn(appsv1.ReplicaSetSpec{}.SwaggerDoc()["selector"]),
		},
		Row: replicaSetRow,
		SelectableFields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.replicas": strconv.Itoa(int(obj.(*appsv1.ReplicaSet).Status.Replicas))}
		},
		Scale: &store.ScaleAccess{
			SpecReplicas:    func(obj runtime.Object) int32 { return ptr.Deref(obj.(*appsv1.ReplicaSet).Spec.Replicas, 1) },
			SetSpecReplicas: func(obj runtime.Object, n int32) { obj.(*appsv1.ReplicaSet).Spec.Replicas = &n },
			StatusReplicas:  func(obj runtime.Object) int32 { return obj.(*appsv1.ReplicaSet).Status.Replicas },
			Selector: func(obj runtime.Object) (string, error) {
				s, err := selectorString(obj.(*appsv1.ReplicaSet).Spec.Selector)
				if err != nil {
					return "", fmt.Errorf("replicaset selector: %w", err)
				}
				return s, nil
			},
		},
	}
}

func replicaSetRow(obj runtime.Object) ([]interface{}, error) {
	rs := obj.(*appsv1.ReplicaSet)
	names, images := containerCells(rs.Spec.Template.Spec.Containers)
	return []interface{}{
		int64(ptr.Deref(rs.Spec.Replicas, 0)),
		int64(rs.Status.Replicas),
		int64(rs.Status.ReadyReplicas),
		store.Age(rs.CreationTimestamp),
		names, images, metav1.FormatLabelSelector(rs.Spec.Selector),
	}, nil
}

func validateReplicaSetSpec(spec *appsv1.ReplicaSetSpec, p *field.Path) field.ErrorList {
	errs := nonNegative(int64(ptr.Deref(spec.Replicas, 0)), p.Child("replicas"))
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	// Kubernetes says "deployment" here too.
	errs = append(errs, validateRequiredSelector(spec.Selector, "deployment", p.Child("selector"))...)
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err != nil {
		errs = append(errs, field.Invalid(p.Child("selector"), spec.Selector, "invalid label selector"))
	} else {
		errs = append(errs, validateReplicaSetTemplate(&spec.Template, sel, p.Child("template"))...)
	}
	return errs
}

func validateReplicaSetStatus(s *appsv1.ReplicaSetStatus, p *field.Path) field.ErrorList {
	errs := nonNegative(int64(s.Replicas), p.Child("replicas"))
	errs = append(errs, nonNegative(int64(s.FullyLabeledReplicas), p.Child("fullyLabeledReplicas"))...)
	errs = append(errs, nonNegative(int64(s.ReadyReplicas), p.Child("readyReplicas"))...)
	errs = append(errs, nonNegative(int64(s.AvailableReplicas), p.Child("availableReplicas"))...)
	errs = append(errs, nonNegativePtr(s.TerminatingReplicas, p.Child("terminatingReplicas"))...)
	errs = append(errs, nonNegative(s.ObservedGeneration, p.Child("observedGeneration"))...)
	if s.FullyLabeledReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("fullyLabeledReplicas"), s.FullyLabeledReplicas, replicasCapMsg))
	}
	if s.ReadyReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("readyReplicas"), s.ReadyReplicas, replicasCapMsg))
	}
	if s.AvailableReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, replicasCapMsg))
	}
	if s.AvailableReplicas > s.ReadyReplicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return errs
}
