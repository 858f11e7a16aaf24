package apps

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/registry/podspec"
	"skiff.dev/skiff/internal/registry/store"
)

func daemonSetKind() *store.Kind {
	return &store.Kind{
		Resource:   appsv1.SchemeGroupVersion.WithResource("daemonsets").GroupResource(),
		Kind:       "DaemonSet",
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.DaemonSet{} },
		NewList:    func() runtime.Object { return &appsv1.DaemonSetList{} },
		ShortNames: []string{"ds"},
		Categories: []string{"all"},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateDaemonSetSpec(&obj.(*appsv1.DaemonSet).Spec, specPath)
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			ds, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			errs := validateDaemonSetSpec(&ds.Spec, specPath)
			return append(errs, validateSelectorUnchanged(ds.Spec.Selector, o.Spec.Selector)...)
		},
		ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			ds, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			errs := validateDaemonSetStatus(&ds.Status, statusPath)
			return append(errs, validateCollisionCount(ds.Status.CollisionCount, o.Status.CollisionCount)...)
		},
		PrepareForCreate: func(_ context.Context, obj runtime.Object) {
			setTemplateGeneration(&obj.(*appsv1.DaemonSet).ObjectMeta, 1)
		},
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			// The template generation (kept, as Kubernetes keeps it for
			// apps/v1, in an annotation) moves with the template only.
			ds, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			gen := templateGeneration(o)
			if !apiequality.Semantic.DeepEqual(ds.Spec.Template, o.Spec.Template) {
				gen++
			}
			setTemplateGeneration(&ds.ObjectMeta, gen)
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Desired", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]},
			{Name: "Current", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]},
			{Name: "Ready", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["numberReady"]},
			{Name: "Up-to-date", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]},
			{Name: "Available", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]},
			{Name: "Node Selector", Type: "string", Description: "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"},
			store.AgeColumn,
			containersColumn,
			imagesColumn,
			selectorColumn(appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"]),
		},
		Row: daemonSetRow,
	}
}

func daemonSetRow(obj runtime.Object) ([]interface{}, error) {
	ds := obj.(*appsv1.DaemonSet)
	names, images := containerCells(ds.Spec.Template.Spec.Containers)
	return []interface{}{
		int64(ds.Status.DesiredNumberScheduled),
		int64(ds.Status.CurrentNumberScheduled),
		int64(ds.Status.NumberReady),
		int64(ds.Status.UpdatedNumberScheduled),
		int64(ds.Status.NumberAvailable),
		labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
		store.Age(ds.CreationTimestamp),
		names, images, metav1.FormatLabelSelector(ds.Spec.Selector),
	}, nil
}

// templateGeneration reads the template generation Kubernetes records on
// apps/v1 DaemonSets (the controller labels pods with it).
func templateGeneration(ds *appsv1.DaemonSet) int64 {
	n, err := strconv.ParseInt(ds.Annotations[appsv1.DeprecatedTemplateGeneration], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func setTemplateGeneration(m *metav1.ObjectMeta, gen int64) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[appsv1.DeprecatedTemplateGeneration] = strconv.FormatInt(gen, 10)
}

func validateDaemonSetSpec(spec *appsv1.DaemonSetSpec, p *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))
	// Unlike the other kinds, a missing selector only shows as a mismatch.
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !sel.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), spec.Template.Labels, selectorMismatchMsg))
	}
	if spec.Selector != nil && len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(p.Child("selector"), spec.Selector, "empty selector is invalid for daemonset"))
	}
	errs = append(errs, podspec.ValidatePodTemplateSpec(&spec.Template, p.Child("template"))...)
	errs = append(errs, validateAlwaysRestart(&spec.Template, "DaemonSet", p.Child("template", "spec"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, validateDaemonSetUpdateStrategy(&spec.UpdateStrategy, p.Child("updateStrategy"))...)
	return append(errs, validateRevisionHistoryLimit(spec.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
}

func validateDaemonSetUpdateStrategy(s *appsv1.DaemonSetUpdateStrategy, p *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(p.Child("rollingUpdate"), "")}
		}
		return validateRollingUpdateDaemonSet(s.RollingUpdate, p.Child("rollingUpdate"))
	default:
		return field.ErrorList{field.NotSupported(p, s, []appsv1.DaemonSetUpdateStrategyType{appsv1.RollingUpdateDaemonSetStrategyType, appsv1.OnDeleteDaemonSetStrategyType})}
	}
}

func validateRollingUpdateDaemonSet(ru *appsv1.RollingUpdateDaemonSet, p *field.Path) field.ErrorList {
	maxUnavailable := ptr.Deref(ru.MaxUnavailable, intstrZero)
	maxSurge := ptr.Deref(ru.MaxSurge, intstrZero)
	errs := validateIntOrPercent(maxUnavailable, p.Child("maxUnavailable"))
	errs = append(errs, validateIntOrPercent(maxSurge, p.Child("maxSurge"))...)
	errs = append(errs, notMoreThan100Percent(maxUnavailable, p.Child("maxUnavailable"))...)
	errs = append(errs, notMoreThan100Percent(maxSurge, p.Child("maxSurge"))...)
	// Exactly one of them may be non-zero.
	hasUnavailable, hasSurge := intOrPercentValue(maxUnavailable) != 0, intOrPercentValue(maxSurge) != 0
	switch {
	case hasUnavailable && hasSurge:
		errs = append(errs, field.Invalid(p.Child("maxSurge"), maxSurge, "may not be set when maxUnavailable is non-zero"))
	case !hasUnavailable && !hasSurge:
		errs = append(errs, field.Required(p.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
	}
	return errs
}

func validateDaemonSetStatus(s *appsv1.DaemonSetStatus, p *field.Path) field.ErrorList {
	errs := nonNegative(int64(s.CurrentNumberScheduled), p.Child("currentNumberScheduled"))
	errs = append(errs, nonNegative(int64(s.NumberMisscheduled), p.Child("numberMisscheduled"))...)
	errs = append(errs, nonNegative(int64(s.DesiredNumberScheduled), p.Child("desiredNumberScheduled"))...)
	errs = append(errs, nonNegative(int64(s.NumberReady), p.Child("numberReady"))...)
	errs = append(errs, nonNegative(s.ObservedGeneration, p.Child("observedGeneration"))...)
	errs = append(errs, nonNegative(int64(s.UpdatedNumberScheduled), p.Child("updatedNumberScheduled"))...)
	errs = append(errs, nonNegative(int64(s.NumberAvailable), p.Child("numberAvailable"))...)
	errs = append(errs, nonNegative(int64(s.NumberUnavailable), p.Child("numberUnavailable"))...)
	return append(errs, nonNegativePtr(s.CollisionCount, p.Child("collisionCount"))...)
}
