package apps

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/registry/store"
)

func deploymentKind() *store.Kind {
	return &store.Kind{
		Resource:   appsv1.SchemeGroupVersion.WithResource("deployments").GroupResource(),
		Kind:       "Deployment",
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.Deployment{} },
		NewList:    func() runtime.Object { return &appsv1.DeploymentList{} },
		ShortNames: []string{"deploy"},
		Categories: []string{"all"},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateDeploymentSpec(&obj.(*appsv1.Deployment).Spec, specPath)
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			d, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			errs := validateDeploymentSpec(&d.Spec, specPath)
			return append(errs, validateSelectorUnchanged(d.Spec.Selector, o.Spec.Selector)...)
		},
		ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			d, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			errs := validateDeploymentStatus(&d.Status, statusPath)
			return append(errs, validateCollisionCount(d.Status.CollisionCount, o.Status.CollisionCount)...)
		},
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			// Annotations are copied onto the ReplicaSets, so a change to
			// them is a new generation too, as in Kubernetes.
			d, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			if !apiequality.Semantic.DeepEqual(d.Annotations, o.Annotations) {
				d.Generation = o.Generation + 1
			}
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
			{Name: "Up-to-date", Type: "string", Description: appsv1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]},
			{Name: "Available", Type: "string", Description: appsv1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]},
			store.AgeColumn,
			containersColumn,
			imagesColumn,
			selectorColumn(appsv1.DeploymentSpec{}.SwaggerDoc()["selector"]),
		},
		Row: deploymentRow,
		Scale: &store.ScaleAccess{
			SpecReplicas:    func(obj runtime.Object) int32 { return ptr.Deref(obj.(*appsv1.Deployment).Spec.Replicas, 1) },
			SetSpecReplicas: func(obj runtime.Object, n int32) { obj.(*appsv1.Deployment).Spec.Replicas = &n },
			StatusReplicas:  func(obj runtime.Object) int32 { return obj.(*appsv1.Deployment).Status.Replicas },
			Selector: func(obj runtime.Object) (string, error) {
				s, err := selectorString(obj.(*appsv1.Deployment).Spec.Selector)
				if err != nil {
					return "", fmt.Errorf("deployment selector: %w", err)
				}
				return s, nil
			},
		},
	}
}

func deploymentRow(obj runtime.Object) ([]interface{}, error) {
	d := obj.(*appsv1.Deployment)
	selector, err := selectorString(d.Spec.Selector)
	if err != nil {
		selector = "<invalid>"
	}
	names, images := containerCells(d.Spec.Template.Spec.Containers)
	return []interface{}{
		fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, ptr.Deref(d.Spec.Replicas, 0)),
		int64(d.Status.UpdatedReplicas),
		int64(d.Status.AvailableReplicas),
		store.Age(d.CreationTimestamp),
		names, images, selector,
	}, nil
}

func validateDeploymentSpec(spec *appsv1.DeploymentSpec, p *field.Path) field.ErrorList {
	errs := nonNegative(int64(ptr.Deref(spec.Replicas, 0)), p.Child("replicas"))
	errs = append(errs, validateRequiredSelector(spec.Selector, "deployment", p.Child("selector"))...)
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err != nil {
		errs = append(errs, field.Invalid(p.Child("selector"), spec.Selector, "invalid label selector"))
	} else {
		errs = append(errs, validateReplicaSetTemplate(&spec.Template, sel, p.Child("template"))...)
	}
	errs = append(errs, validateDeploymentStrategy(&spec.Strategy, p.Child("strategy"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, validateRevisionHistoryLimit(spec.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
	if pds := spec.ProgressDeadlineSeconds; pds != nil {
		errs = append(errs, nonNegative(int64(*pds), p.Child("progressDeadlineSeconds"))...)
		if *pds <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(p.Child("progressDeadlineSeconds"), *pds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
		return nil
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(p.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		return validateRollingUpdateDeployment(s.RollingUpdate, p.Child("rollingUpdate"))
	default:
		return field.ErrorList{field.NotSupported(p, s, []appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
	}
}

func validateRollingUpdateDeployment(ru *appsv1.RollingUpdateDeployment, p *field.Path) field.ErrorList {
	maxUnavailable := ptr.Deref(ru.MaxUnavailable, intstrZero)
	maxSurge := ptr.Deref(ru.MaxSurge, intstrZero)
	errs := validateIntOrPercent(maxUnavailable, p.Child("maxUnavailable"))
	errs = append(errs, validateIntOrPercent(maxSurge, p.Child("maxSurge"))...)
	if intOrPercentValue(maxUnavailable) == 0 && intOrPercentValue(maxSurge) == 0 {
		errs = append(errs, field.Invalid(p.Child("maxUnavailable"), maxUnavailable, "may not be 0 when `maxSurge` is 0"))
	}
	return append(errs, notMoreThan100Percent(maxUnavailable, p.Child("maxUnavailable"))...)
}

func validateDeploymentStatus(s *appsv1.DeploymentStatus, p *field.Path) field.ErrorList {
	errs := nonNegative(s.ObservedGeneration, p.Child("observedGeneration"))
	errs = append(errs, nonNegative(int64(s.Replicas), p.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(s.UpdatedReplicas), p.Child("updatedReplicas"))...)
	errs = append(errs, nonNegative(int64(s.ReadyReplicas), p.Child("readyReplicas"))...)
	errs = append(errs, nonNegative(int64(s.AvailableReplicas), p.Child("availableReplicas"))...)
	errs = append(errs, nonNegative(int64(s.UnavailableReplicas), p.Child("unavailableReplicas"))...)
	errs = append(errs, nonNegativePtr(s.TerminatingReplicas, p.Child("terminatingReplicas"))...)
	errs = append(errs, nonNegativePtr(s.CollisionCount, p.Child("collisionCount"))...)
	if s.UpdatedReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("updatedReplicas"), s.UpdatedReplicas, replicasCapMsg))
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
