package autoscaling

import (
	"fmt"
	"slices"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	// maxPeriodSeconds is the largest scaling policy period.
	maxPeriodSeconds int32 = 1800
	// maxStabilizationWindowSeconds is the largest stabilization window.
	maxStabilizationWindowSeconds int32 = 3600
)

var (
	// Sorted, as Kubernetes lists them in NotSupported errors.
	metricSourceTypes = []string{
		string(autoscalingv2.ContainerResourceMetricSourceType),
		string(autoscalingv2.ExternalMetricSourceType),
		string(autoscalingv2.ObjectMetricSourceType),
		string(autoscalingv2.PodsMetricSourceType),
		string(autoscalingv2.ResourceMetricSourceType),
	}
	selectPolicies = []string{
		string(autoscalingv2.DisabledPolicySelect),
		string(autoscalingv2.MaxChangePolicySelect),
		string(autoscalingv2.MinChangePolicySelect),
	}
	scalingPolicyTypes = []string{
		string(autoscalingv2.PercentScalingPolicy),
		string(autoscalingv2.PodsScalingPolicy),
	}
)

// validateHorizontalPodAutoscaler checks the spec of a new (old == nil) or
// updated HPA. minReplicas 0 needs the HPAScaleToZero feature, which
// Kubernetes leaves off; an object already stored with 0 may keep it.
func validateHorizontalPodAutoscaler(hpa, old *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	minReplicasLowerBound := int32(1)
	if old != nil && old.Spec.MinReplicas != nil && *old.Spec.MinReplicas == 0 {
		minReplicasLowerBound = 0
	}
	return validateSpec(&hpa.Spec, field.NewPath("spec"), minReplicasLowerBound)
}

func validateSpec(spec *autoscalingv2.HorizontalPodAutoscalerSpec, fldPath *field.Path, minReplicasLowerBound int32) field.ErrorList {
	var errs field.ErrorList
	if spec.MinReplicas != nil && *spec.MinReplicas < minReplicasLowerBound {
		errs = append(errs, field.Invalid(fldPath.Child("minReplicas"), *spec.MinReplicas,
			fmt.Sprintf("must be greater than or equal to %d", minReplicasLowerBound)))
	}
	if spec.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(fldPath.Child("maxReplicas"), spec.MaxReplicas, "must be greater than 0"))
	}
	if spec.MinReplicas != nil && spec.MaxReplicas < *spec.MinReplicas {
		errs = append(errs, field.Invalid(fldPath.Child("maxReplicas"), spec.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	errs = append(errs, validateCrossVersionObjectReference(spec.ScaleTargetRef, fldPath.Child("scaleTargetRef"))...)
	errs = append(errs, validateMetrics(spec.Metrics, fldPath.Child("metrics"), spec.MinReplicas)...)
	errs = append(errs, validateBehavior(spec.Behavior, fldPath.Child("behavior"))...)
	return errs
}

func validateCrossVersionObjectReference(ref autoscalingv2.CrossVersionObjectReference, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ref.Kind == "" {
		errs = append(errs, field.Required(fldPath.Child("kind"), ""))
	} else {
		for _, msg := range content.IsPathSegmentName(ref.Kind) {
			errs = append(errs, field.Invalid(fldPath.Child("kind"), ref.Kind, msg))
		}
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	} else {
		for _, msg := range content.IsPathSegmentName(ref.Name) {
			errs = append(errs, field.Invalid(fldPath.Child("name"), ref.Name, msg))
		}
	}
	return errs
}

func validateMetrics(metrics []autoscalingv2.MetricSpec, fldPath *field.Path, minReplicas *int32) field.ErrorList {
	var errs field.ErrorList
	hasObjectOrExternal := false
	for i := range metrics {
		errs = append(errs, validateMetricSpec(&metrics[i], fldPath.Index(i))...)
		switch metrics[i].Type {
		case autoscalingv2.ObjectMetricSourceType, autoscalingv2.ExternalMetricSourceType:
			hasObjectOrExternal = true
		}
	}
	if minReplicas != nil && *minReplicas == 0 && !hasObjectOrExternal {
		errs = append(errs, field.Forbidden(fldPath, "must specify at least one Object or External metric to support scaling to zero replicas"))
	}
	return errs
}

// validateMetricSpec mirrors Kubernetes: the source named by type must be
// set, no other source may be, and the set source is checked.
func validateMetricSpec(spec *autoscalingv2.MetricSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Type == "" {
		errs = append(errs, field.Required(fldPath.Child("type"), "must specify a metric source type"))
	}
	if !slices.Contains(metricSourceTypes, string(spec.Type)) {
		errs = append(errs, field.NotSupported(fldPath.Child("type"), spec.Type, metricSourceTypes))
	}

	// The sources present, in Kubernetes' order; only the first is checked.
	var present []string
	check := func(name string, set bool, validate func() field.ErrorList) {
		if !set {
			return
		}
		present = append(present, name)
		if len(present) == 1 {
			errs = append(errs, validate()...)
		}
	}
	check("object", spec.Object != nil, func() field.ErrorList { return validateObjectSource(spec.Object, fldPath.Child("object")) })
	check("external", spec.External != nil, func() field.ErrorList { return validateExternalSource(spec.External, fldPath.Child("external")) })
	check("pods", spec.Pods != nil, func() field.ErrorList { return validatePodsSource(spec.Pods, fldPath.Child("pods")) })
	check("resource", spec.Resource != nil, func() field.ErrorList { return validateResourceSource(spec.Resource, fldPath.Child("resource")) })
	check("containerResource", spec.ContainerResource != nil, func() field.ErrorList {
		return validateContainerResourceSource(spec.ContainerResource, fldPath.Child("containerResource"))
	})

	const populate = "must populate information for the given metric source"
	var expected string
	switch spec.Type {
	case autoscalingv2.ObjectMetricSourceType:
		expected = "object"
		if spec.Object == nil {
			errs = append(errs, field.Required(fldPath.Child(expected), populate))
		}
	case autoscalingv2.PodsMetricSourceType:
		expected = "pods"
		if spec.Pods == nil {
			errs = append(errs, field.Required(fldPath.Child(expected), populate))
		}
	case autoscalingv2.ResourceMetricSourceType:
		expected = "resource"
		if spec.Resource == nil {
			errs = append(errs, field.Required(fldPath.Child(expected), populate))
		}
	case autoscalingv2.ExternalMetricSourceType:
		expected = "external"
		if spec.External == nil {
			errs = append(errs, field.Required(fldPath.Child(expected), populate))
		}
	case autoscalingv2.ContainerResourceMetricSourceType:
		expected = "containerResource"
		if spec.ContainerResource == nil {
			errs = append(errs, field.Required(fldPath.Child(expected), populate))
		}
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("type"), spec.Type, metricSourceTypes))
	}
	if len(present) > 1 {
		for _, name := range present {
			if name != expected {
				errs = append(errs, field.Forbidden(fldPath.Child(name), "must populate the given metric source only"))
			}
		}
	}
	return errs
}

func validateObjectSource(src *autoscalingv2.ObjectMetricSource, fldPath *field.Path) field.ErrorList {
	errs := validateCrossVersionObjectReference(src.DescribedObject, fldPath.Child("describedObject"))
	errs = append(errs, validateMetricIdentifier(src.Metric, fldPath.Child("metric"))...)
	errs = append(errs, validateMetricTarget(src.Target, fldPath.Child("target"))...)
	if src.Target.Value == nil && src.Target.AverageValue == nil {
		errs = append(errs, field.Required(fldPath.Child("target", "averageValue"), "must set either a target value or averageValue"))
	}
	return errs
}

func validateExternalSource(src *autoscalingv2.ExternalMetricSource, fldPath *field.Path) field.ErrorList {
	errs := validateMetricIdentifier(src.Metric, fldPath.Child("metric"))
	errs = append(errs, validateMetricTarget(src.Target, fldPath.Child("target"))...)
	if src.Target.Value == nil && src.Target.AverageValue == nil {
		errs = append(errs, field.Required(fldPath.Child("target", "averageValue"), "must set either a target value for metric or a per-pod target"))
	}
	if src.Target.Value != nil && src.Target.AverageValue != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("target", "value"), "may not set both a target value for metric and a per-pod target"))
	}
	return errs
}

func validatePodsSource(src *autoscalingv2.PodsMetricSource, fldPath *field.Path) field.ErrorList {
	errs := validateMetricIdentifier(src.Metric, fldPath.Child("metric"))
	errs = append(errs, validateMetricTarget(src.Target, fldPath.Child("target"))...)
	if src.Target.AverageValue == nil {
		errs = append(errs, field.Required(fldPath.Child("target", "averageValue"), "must specify a positive target averageValue"))
	}
	return errs
}

func validateResourceSource(src *autoscalingv2.ResourceMetricSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if src.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), "must specify a resource name"))
	}
	errs = append(errs, validateMetricTarget(src.Target, fldPath.Child("target"))...)
	errs = append(errs, validateUtilizationOrValue(src.Target, fldPath.Child("target"))...)
	return errs
}

func validateContainerResourceSource(src *autoscalingv2.ContainerResourceMetricSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if src.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), "must specify a resource name"))
	} else {
		errs = append(errs, validateContainerResourceName(src.Name, fldPath.Child("name"))...)
	}
	if src.Container == "" {
		errs = append(errs, field.Required(fldPath.Child("container"), "must specify a container"))
	} else {
		for _, msg := range content.IsDNS1123Label(src.Container) {
			errs = append(errs, field.Invalid(fldPath.Child("container"), src.Container, msg))
		}
	}
	errs = append(errs, validateMetricTarget(src.Target, fldPath.Child("target"))...)
	errs = append(errs, validateUtilizationOrValue(src.Target, fldPath.Child("target"))...)
	return errs
}

func validateUtilizationOrValue(t autoscalingv2.MetricTarget, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.AverageUtilization == nil && t.AverageValue == nil {
		errs = append(errs, field.Required(fldPath.Child("averageUtilization"), "must set either a target raw value or a target utilization"))
	}
	if t.AverageUtilization != nil && t.AverageValue != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("averageValue"), "may not set both a target raw value and a target utilization"))
	}
	return errs
}

// validateContainerResourceName accepts the standard container resources
// (cpu, memory, ephemeral-storage, hugepages-*) and prefixed (extended)
// resource names.
func validateContainerResourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range content.IsLabelKey(string(name)) {
		errs = append(errs, field.Invalid(fldPath, name, msg))
	}
	if len(errs) > 0 {
		return errs
	}
	if !strings.Contains(string(name), "/") {
		switch {
		case name == corev1.ResourceCPU, name == corev1.ResourceMemory, name == corev1.ResourceEphemeralStorage,
			strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix):
		default:
			errs = append(errs, field.Invalid(fldPath, name, "must be a standard resource for containers"))
		}
	}
	return errs
}

func validateMetricTarget(t autoscalingv2.MetricTarget, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Type == "" {
		errs = append(errs, field.Required(fldPath.Child("type"), "must specify a metric target type"))
	}
	switch t.Type {
	case autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType:
	default:
		errs = append(errs, field.Invalid(fldPath.Child("type"), t.Type, "must be either Utilization, Value, or AverageValue"))
	}
	if t.Value != nil && t.Value.Sign() != 1 {
		errs = append(errs, field.Invalid(fldPath.Child("value"), t.Value, "must be positive"))
	}
	if t.AverageValue != nil && t.AverageValue.Sign() != 1 {
		errs = append(errs, field.Invalid(fldPath.Child("averageValue"), t.AverageValue, "must be positive"))
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		errs = append(errs, field.Invalid(fldPath.Child("averageUtilization"), *t.AverageUtilization, "must be greater than 0"))
	}
	return errs
}

func validateMetricIdentifier(id autoscalingv2.MetricIdentifier, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if id.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), "must specify a metric name"))
	} else {
		for _, msg := range content.IsPathSegmentName(id.Name) {
			errs = append(errs, field.Invalid(fldPath.Child("name"), id.Name, msg))
		}
	}
	return errs
}

func validateBehavior(b *autoscalingv2.HorizontalPodAutoscalerBehavior, fldPath *field.Path) field.ErrorList {
	if b == nil {
		return nil
	}
	errs := validateScalingRules(b.ScaleUp, fldPath.Child("scaleUp"))
	return append(errs, validateScalingRules(b.ScaleDown, fldPath.Child("scaleDown"))...)
}

func validateScalingRules(rules *autoscalingv2.HPAScalingRules, fldPath *field.Path) field.ErrorList {
	if rules == nil {
		return nil
	}
	var errs field.ErrorList
	if w := rules.StabilizationWindowSeconds; w != nil {
		if *w < 0 {
			errs = append(errs, field.Invalid(fldPath.Child("stabilizationWindowSeconds"), *w, "must be greater than or equal to zero"))
		}
		if *w > maxStabilizationWindowSeconds {
			errs = append(errs, field.Invalid(fldPath.Child("stabilizationWindowSeconds"), *w,
				fmt.Sprintf("must be less than or equal to %v", maxStabilizationWindowSeconds)))
		}
	}
	if p := rules.SelectPolicy; p != nil && !slices.Contains(selectPolicies, string(*p)) {
		errs = append(errs, field.NotSupported(fldPath.Child("selectPolicy"), *p, selectPolicies))
	}
	if t := rules.Tolerance; t != nil && t.Sign() < 0 {
		errs = append(errs, field.Invalid(fldPath.Child("tolerance"), t, "must be greater than or equal to zero"))
	}
	policiesPath := fldPath.Child("policies")
	if len(rules.Policies) == 0 {
		errs = append(errs, field.Required(policiesPath, "must specify at least one Policy"))
	}
	for i, policy := range rules.Policies {
		idxPath := policiesPath.Index(i)
		if !slices.Contains(scalingPolicyTypes, string(policy.Type)) {
			errs = append(errs, field.NotSupported(idxPath.Child("type"), policy.Type, scalingPolicyTypes))
		}
		if policy.Value <= 0 {
			errs = append(errs, field.Invalid(idxPath.Child("value"), policy.Value, "must be greater than zero"))
		}
		if policy.PeriodSeconds <= 0 {
			errs = append(errs, field.Invalid(idxPath.Child("periodSeconds"), policy.PeriodSeconds, "must be greater than zero"))
		}
		if policy.PeriodSeconds > maxPeriodSeconds {
			errs = append(errs, field.Invalid(idxPath.Child("periodSeconds"), policy.PeriodSeconds,
				fmt.Sprintf("must be less than or equal to %v", maxPeriodSeconds)))
		}
	}
	return errs
}

// validateHorizontalPodAutoscalerStatus checks a write through the status
// subresource.
func validateHorizontalPodAutoscalerStatus(status *autoscalingv2.HorizontalPodAutoscalerStatus) field.ErrorList {
	errs := apivalidation.ValidateNonnegativeField(int64(status.CurrentReplicas), field.NewPath("status", "currentReplicas"))
	return append(errs, apivalidation.ValidateNonnegativeField(int64(status.DesiredReplicas), field.NewPath("status", "desiredReplicas"))...)
}
