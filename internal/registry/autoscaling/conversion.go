package autoscaling

import (
	"encoding/json"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// The annotations autoscaling/v1 uses to carry what only autoscaling/v2 can
// express, so that a v2 object read and written back through v1 keeps it.
// They are Kubernetes' names and encodings.
const (
	// MetricSpecsAnnotation holds the metrics other than a CPU utilization
	// target, as a JSON list of autoscaling/v1 MetricSpec.
	MetricSpecsAnnotation = "autoscaling.alpha.kubernetes.io/metrics"
	// MetricStatusesAnnotation holds status.currentMetrics, as a JSON list of
	// autoscaling/v1 MetricStatus.
	MetricStatusesAnnotation = "autoscaling.alpha.kubernetes.io/current-metrics"
	// ConditionsAnnotation holds status.conditions.
	ConditionsAnnotation = "autoscaling.alpha.kubernetes.io/conditions"
	// BehaviorSpecsAnnotation holds spec.behavior, encoded as Kubernetes
	// encodes its internal type (Go field names: {"ScaleUp":{...}}).
	BehaviorSpecsAnnotation = "autoscaling.alpha.kubernetes.io/behavior"
)

var roundTripAnnotations = []string{MetricSpecsAnnotation, MetricStatusesAnnotation, ConditionsAnnotation, BehaviorSpecsAnnotation}

// RegisterConversions registers autoscaling/v1 <-> autoscaling/v2 HPA (and
// list) conversion functions with the scheme (scheme.AddConversionFunc), as
// Kubernetes converts them: v1's targetCPUUtilizationPercentage <-> a v2
// Resource cpu Utilization metric; status currentCPUUtilizationPercentage;
// other v2 metrics, behavior and conditions kept in the annotations
// Kubernetes uses (autoscaling.alpha.kubernetes.io/metrics, .../behavior,
// .../conditions, .../current-metrics) so a v2 object read and written back
// through v1 keeps them.
func RegisterConversions(scheme *runtime.Scheme) error {
	funcs := []struct {
		a, b interface{}
		fn   conversion.ConversionFunc
	}{
		{(*autoscalingv1.HorizontalPodAutoscaler)(nil), (*autoscalingv2.HorizontalPodAutoscaler)(nil), func(a, b interface{}, _ conversion.Scope) error {
			return ConvertV1ToV2(a.(*autoscalingv1.HorizontalPodAutoscaler), b.(*autoscalingv2.HorizontalPodAutoscaler))
		}},
		{(*autoscalingv2.HorizontalPodAutoscaler)(nil), (*autoscalingv1.HorizontalPodAutoscaler)(nil), func(a, b interface{}, _ conversion.Scope) error {
			return ConvertV2ToV1(a.(*autoscalingv2.HorizontalPodAutoscaler), b.(*autoscalingv1.HorizontalPodAutoscaler))
		}},
		{(*autoscalingv1.HorizontalPodAutoscalerList)(nil), (*autoscalingv2.HorizontalPodAutoscalerList)(nil), func(a, b interface{}, _ conversion.Scope) error {
			in, out := a.(*autoscalingv1.HorizontalPodAutoscalerList), b.(*autoscalingv2.HorizontalPodAutoscalerList)
			in.ListMeta.DeepCopyInto(&out.ListMeta)
			out.Items = nil
			if in.Items != nil {
				out.Items = make([]autoscalingv2.HorizontalPodAutoscaler, len(in.Items))
			}
			for i := range in.Items {
				if err := ConvertV1ToV2(&in.Items[i], &out.Items[i]); err != nil {
					return err
				}
			}
			return nil
		}},
		{(*autoscalingv2.HorizontalPodAutoscalerList)(nil), (*autoscalingv1.HorizontalPodAutoscalerList)(nil), func(a, b interface{}, _ conversion.Scope) error {
			in, out := a.(*autoscalingv2.HorizontalPodAutoscalerList), b.(*autoscalingv1.HorizontalPodAutoscalerList)
			in.ListMeta.DeepCopyInto(&out.ListMeta)
			out.Items = nil
			if in.Items != nil {
				out.Items = make([]autoscalingv1.HorizontalPodAutoscaler, len(in.Items))
			}
			for i := range in.Items {
				if err := ConvertV2ToV1(&in.Items[i], &out.Items[i]); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, f := range funcs {
		if err := scheme.AddConversionFunc(f.a, f.b, f.fn); err != nil {
			return fmt.Errorf("register HorizontalPodAutoscaler conversion %T -> %T: %w", f.a, f.b, err)
		}
	}
	return nil
}

// ConvertV2ToV1 converts a stored HPA to autoscaling/v1. Everything v1 has no
// field for goes into the round-trip annotations; annotations of that name
// already on the object are replaced.
func ConvertV2ToV1(in *autoscalingv2.HorizontalPodAutoscaler, out *autoscalingv1.HorizontalPodAutoscaler) error {
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	annotations := dropRoundTripAnnotations(out.Annotations)
	setAnnotation := func(key string, v interface{}) error {
		enc, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s of HorizontalPodAutoscaler %s/%s: %w", key, in.Namespace, in.Name, err)
		}
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[key] = string(enc)
		return nil
	}

	out.Spec = autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference(in.Spec.ScaleTargetRef),
		MinReplicas:    copyInt32(in.Spec.MinReplicas),
		MaxReplicas:    in.Spec.MaxReplicas,
	}
	// The first cpu Resource metric gives the v1 target, if it is a
	// utilization; every metric but a cpu utilization goes to the annotation.
	for _, m := range in.Spec.Metrics {
		if isCPUResource(&m) {
			out.Spec.TargetCPUUtilizationPercentage = copyInt32(m.Resource.Target.AverageUtilization)
			break
		}
	}
	var otherMetrics []autoscalingv1.MetricSpec
	for i := range in.Spec.Metrics {
		m := &in.Spec.Metrics[i]
		if isCPUResource(m) && m.Resource.Target.AverageUtilization != nil {
			continue
		}
		otherMetrics = append(otherMetrics, metricSpecToV1(m))
	}
	if len(otherMetrics) > 0 {
		if err := setAnnotation(MetricSpecsAnnotation, otherMetrics); err != nil {
			return err
		}
	}
	if in.Spec.Behavior != nil {
		if err := setAnnotation(BehaviorSpecsAnnotation, behaviorToAnnotation(in.Spec.Behavior)); err != nil {
			return err
		}
	}

	out.Status = autoscalingv1.HorizontalPodAutoscalerStatus{
		ObservedGeneration: copyInt64(in.Status.ObservedGeneration),
		LastScaleTime:      in.Status.LastScaleTime.DeepCopy(),
		CurrentReplicas:    in.Status.CurrentReplicas,
		DesiredReplicas:    in.Status.DesiredReplicas,
	}
	for i := range in.Status.CurrentMetrics {
		m := &in.Status.CurrentMetrics[i]
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
			m.Resource.Current.AverageUtilization != nil {
			out.Status.CurrentCPUUtilizationPercentage = copyInt32(m.Resource.Current.AverageUtilization)
		}
	}
	// The statuses are all kept, even the cpu one: it has the raw value too.
	if len(in.Status.CurrentMetrics) > 0 {
		statuses := make([]autoscalingv1.MetricStatus, len(in.Status.CurrentMetrics))
		for i := range in.Status.CurrentMetrics {
			statuses[i] = metricStatusToV1(&in.Status.CurrentMetrics[i])
		}
		if err := setAnnotation(MetricStatusesAnnotation, statuses); err != nil {
			return err
		}
	}
	if len(in.Status.Conditions) > 0 {
		conditions := make([]autoscalingv1.HorizontalPodAutoscalerCondition, len(in.Status.Conditions))
		for i, c := range in.Status.Conditions {
			conditions[i] = autoscalingv1.HorizontalPodAutoscalerCondition{
				Type:               autoscalingv1.HorizontalPodAutoscalerConditionType(c.Type),
				Status:             c.Status,
				LastTransitionTime: c.LastTransitionTime,
				Reason:             c.Reason,
				Message:            c.Message,
				ObservedGeneration: copyInt64(c.ObservedGeneration),
			}
		}
		if err := setAnnotation(ConditionsAnnotation, conditions); err != nil {
			return err
		}
	}
	out.Annotations = annotations
	return nil
}

// ConvertV1ToV2 converts an autoscaling/v1 HPA to the stored version, taking
// back what the round-trip annotations carry (malformed annotations are
// ignored, as Kubernetes does) and dropping them. With no metric at all the
// v1 default, 80% CPU utilization, is applied here.
func ConvertV1ToV2(in *autoscalingv1.HorizontalPodAutoscaler, out *autoscalingv2.HorizontalPodAutoscaler) error {
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	annotations := out.Annotations

	out.Spec = autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference(in.Spec.ScaleTargetRef),
		MinReplicas:    copyInt32(in.Spec.MinReplicas),
		MaxReplicas:    in.Spec.MaxReplicas,
	}
	var cpu []autoscalingv2.MetricSpec
	if in.Spec.TargetCPUUtilizationPercentage != nil {
		m := defaultCPUMetric()
		m.Resource.Target.AverageUtilization = copyInt32(in.Spec.TargetCPUUtilizationPercentage)
		cpu = append(cpu, m)
	}
	out.Spec.Metrics = cpu
	if enc, ok := annotations[MetricSpecsAnnotation]; ok {
		var others []autoscalingv1.MetricSpec
		if err := json.Unmarshal([]byte(enc), &others); err == nil {
			metrics := make([]autoscalingv2.MetricSpec, 0, len(others)+len(cpu))
			for i := range others {
				metrics = append(metrics, metricSpecFromV1(&others[i]))
			}
			out.Spec.Metrics = append(metrics, cpu...)
		}
	}
	if enc, ok := annotations[BehaviorSpecsAnnotation]; ok {
		var b behaviorAnnotation
		if err := json.Unmarshal([]byte(enc), &b); err == nil && (b.ScaleUp != nil || b.ScaleDown != nil) {
			out.Spec.Behavior = behaviorFromAnnotation(&b)
		}
	}
	if len(out.Spec.Metrics) == 0 {
		out.Spec.Metrics = []autoscalingv2.MetricSpec{defaultCPUMetric()}
	}

	out.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: copyInt64(in.Status.ObservedGeneration),
		LastScaleTime:      in.Status.LastScaleTime.DeepCopy(),
		CurrentReplicas:    in.Status.CurrentReplicas,
		DesiredReplicas:    in.Status.DesiredReplicas,
	}
	if in.Status.CurrentCPUUtilizationPercentage != nil {
		out.Status.CurrentMetrics = []autoscalingv2.MetricStatus{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{
				Name:    corev1.ResourceCPU,
				Current: autoscalingv2.MetricValueStatus{AverageUtilization: copyInt32(in.Status.CurrentCPUUtilizationPercentage)},
			},
		}}
	}
	if enc, ok := annotations[MetricStatusesAnnotation]; ok {
		var statuses []autoscalingv1.MetricStatus
		if err := json.Unmarshal([]byte(enc), &statuses); err == nil {
			// These have more information than the cpu percentage.
			out.Status.CurrentMetrics = make([]autoscalingv2.MetricStatus, len(statuses))
			for i := range statuses {
				out.Status.CurrentMetrics[i] = metricStatusFromV1(&statuses[i])
			}
		}
	}
	if enc, ok := annotations[ConditionsAnnotation]; ok {
		var conditions []autoscalingv1.HorizontalPodAutoscalerCondition
		if err := json.Unmarshal([]byte(enc), &conditions); err == nil {
			out.Status.Conditions = make([]autoscalingv2.HorizontalPodAutoscalerCondition, len(conditions))
			for i, c := range conditions {
				out.Status.Conditions[i] = autoscalingv2.HorizontalPodAutoscalerCondition{
					Type:               autoscalingv2.HorizontalPodAutoscalerConditionType(c.Type),
					Status:             c.Status,
					LastTransitionTime: c.LastTransitionTime,
					Reason:             c.Reason,
					Message:            c.Message,
					ObservedGeneration: copyInt64(c.ObservedGeneration),
				}
			}
		}
	}
	out.Annotations = dropRoundTripAnnotations(annotations)
	return nil
}

func isCPUResource(m *autoscalingv2.MetricSpec) bool {
	return m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU
}

// dropRoundTripAnnotations returns annotations without the round-trip keys,
// copying the map only when it has one of them, and nil when nothing is left.
func dropRoundTripAnnotations(annotations map[string]string) map[string]string {
	found := false
	for _, k := range roundTripAnnotations {
		if _, ok := annotations[k]; ok {
			found = true
			break
		}
	}
	if !found {
		return annotations
	}
	out := make(map[string]string, len(annotations))
	for k, v := range annotations {
		out[k] = v
	}
	for _, k := range roundTripAnnotations {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func metricSpecToV1(m *autoscalingv2.MetricSpec) autoscalingv1.MetricSpec {
	out := autoscalingv1.MetricSpec{Type: autoscalingv1.MetricSourceType(m.Type)}
	if s := m.Object; s != nil {
		out.Object = &autoscalingv1.ObjectMetricSource{
			Target:       autoscalingv1.CrossVersionObjectReference(s.DescribedObject),
			MetricName:   s.Metric.Name,
			TargetValue:  derefQuantity(s.Target.Value),
			Selector:     s.Metric.Selector.DeepCopy(),
			AverageValue: copyQuantity(s.Target.AverageValue),
		}
	}
	if s := m.Pods; s != nil {
		out.Pods = &autoscalingv1.PodsMetricSource{
			MetricName:         s.Metric.Name,
			TargetAverageValue: derefQuantity(s.Target.AverageValue),
			Selector:           s.Metric.Selector.DeepCopy(),
		}
	}
	if s := m.Resource; s != nil {
		out.Resource = &autoscalingv1.ResourceMetricSource{
			Name:                     s.Name,
			TargetAverageUtilization: copyInt32(s.Target.AverageUtilization),
			TargetAverageValue:       copyQuantity(s.Target.AverageValue),
		}
	}
	if s := m.ContainerResource; s != nil {
		out.ContainerResource = &autoscalingv1.ContainerResourceMetricSource{
			Name:                     s.Name,
			TargetAverageUtilization: copyInt32(s.Target.AverageUtilization),
			TargetAverageValue:       copyQuantity(s.Target.AverageValue),
			Container:                s.Container,
		}
	}
	if s := m.External; s != nil {
		out.External = &autoscalingv1.ExternalMetricSource{
			MetricName:         s.Metric.Name,
			MetricSelector:     s.Metric.Selector.DeepCopy(),
			TargetValue:        copyQuantity(s.Target.Value),
			TargetAverageValue: copyQuantity(s.Target.AverageValue),
		}
	}
	return out
}

func metricSpecFromV1(m *autoscalingv1.MetricSpec) autoscalingv2.MetricSpec {
	out := autoscalingv2.MetricSpec{Type: autoscalingv2.MetricSourceType(m.Type)}
	if s := m.Object; s != nil {
		target := autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, AverageValue: copyQuantity(s.AverageValue)}
		if s.AverageValue != nil {
			target.Type = autoscalingv2.AverageValueMetricType
		}
		// Kubernetes always sets the value; a zero value next to an average
		// target is what v1 writes for "unset", and is left out so that the
		// object still validates after a round trip.
		if s.AverageValue == nil || !s.TargetValue.IsZero() {
			target.Value = ptr.To(s.TargetValue.DeepCopy())
		}
		out.Object = &autoscalingv2.ObjectMetricSource{
			DescribedObject: autoscalingv2.CrossVersionObjectReference(s.Target),
			Target:          target,
			Metric:          autoscalingv2.MetricIdentifier{Name: s.MetricName, Selector: s.Selector.DeepCopy()},
		}
	}
	if s := m.Pods; s != nil {
		out.Pods = &autoscalingv2.PodsMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: s.MetricName, Selector: s.Selector.DeepCopy()},
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(s.TargetAverageValue.DeepCopy())},
		}
	}
	if s := m.Resource; s != nil {
		out.Resource = &autoscalingv2.ResourceMetricSource{
			Name:   s.Name,
			Target: resourceTargetFromV1(s.TargetAverageUtilization, s.TargetAverageValue),
		}
	}
	if s := m.ContainerResource; s != nil {
		out.ContainerResource = &autoscalingv2.ContainerResourceMetricSource{
			Name:      s.Name,
			Target:    resourceTargetFromV1(s.TargetAverageUtilization, s.TargetAverageValue),
			Container: s.Container,
		}
	}
	if s := m.External; s != nil {
		target := autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, Value: copyQuantity(s.TargetValue), AverageValue: copyQuantity(s.TargetAverageValue)}
		if s.TargetValue != nil {
			target.Type = autoscalingv2.ValueMetricType
		}
		out.External = &autoscalingv2.ExternalMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: s.MetricName, Selector: s.MetricSelector.DeepCopy()},
			Target: target,
		}
	}
	return out
}

func resourceTargetFromV1(utilization *int32, averageValue *resource.Quantity) autoscalingv2.MetricTarget {
	t := autoscalingv2.MetricTarget{
		Type:               autoscalingv2.AverageValueMetricType,
		AverageValue:       copyQuantity(averageValue),
		AverageUtilization: copyInt32(utilization),
	}
	if utilization != nil {
		t.Type = autoscalingv2.UtilizationMetricType
	}
	return t
}

func metricStatusToV1(m *autoscalingv2.MetricStatus) autoscalingv1.MetricStatus {
	out := autoscalingv1.MetricStatus{Type: autoscalingv1.MetricSourceType(m.Type)}
	if s := m.Object; s != nil {
		out.Object = &autoscalingv1.ObjectMetricStatus{
			Target:       autoscalingv1.CrossVersionObjectReference(s.DescribedObject),
			MetricName:   s.Metric.Name,
			CurrentValue: derefQuantity(s.Current.Value),
			Selector:     s.Metric.Selector.DeepCopy(),
			AverageValue: copyQuantity(s.Current.AverageValue),
		}
	}
	if s := m.Pods; s != nil {
		out.Pods = &autoscalingv1.PodsMetricStatus{
			MetricName:          s.Metric.Name,
			CurrentAverageValue: derefQuantity(s.Current.AverageValue),
			Selector:            s.Metric.Selector.DeepCopy(),
		}
	}
	if s := m.Resource; s != nil {
		out.Resource = &autoscalingv1.ResourceMetricStatus{
			Name:                      s.Name,
			CurrentAverageUtilization: copyInt32(s.Current.AverageUtilization),
			CurrentAverageValue:       derefQuantity(s.Current.AverageValue),
		}
	}
	if s := m.ContainerResource; s != nil {
		out.ContainerResource = &autoscalingv1.ContainerResourceMetricStatus{
			Name:                      s.Name,
			CurrentAverageUtilization: copyInt32(s.Current.AverageUtilization),
			CurrentAverageValue:       derefQuantity(s.Current.AverageValue),
			Container:                 s.Container,
		}
	}
	if s := m.External; s != nil {
		out.External = &autoscalingv1.ExternalMetricStatus{
			MetricName:          s.Metric.Name,
			MetricSelector:      s.Metric.Selector.DeepCopy(),
			CurrentValue:        derefQuantity(s.Current.Value),
			CurrentAverageValue: copyQuantity(s.Current.AverageValue),
		}
	}
	return out
}

// metricStatusFromV1 mirrors Kubernetes: the v1 status fields that are plain
// quantities always come back as set values.
func metricStatusFromV1(m *autoscalingv1.MetricStatus) autoscalingv2.MetricStatus {
	out := autoscalingv2.MetricStatus{Type: autoscalingv2.MetricSourceType(m.Type)}
	if s := m.Object; s != nil {
		out.Object = &autoscalingv2.ObjectMetricStatus{
			Metric:          autoscalingv2.MetricIdentifier{Name: s.MetricName, Selector: s.Selector.DeepCopy()},
			Current:         autoscalingv2.MetricValueStatus{Value: ptr.To(s.CurrentValue.DeepCopy()), AverageValue: copyQuantity(s.AverageValue)},
			DescribedObject: autoscalingv2.CrossVersionObjectReference(s.Target),
		}
	}
	if s := m.Pods; s != nil {
		out.Pods = &autoscalingv2.PodsMetricStatus{
			Metric:  autoscalingv2.MetricIdentifier{Name: s.MetricName, Selector: s.Selector.DeepCopy()},
			Current: autoscalingv2.MetricValueStatus{AverageValue: ptr.To(s.CurrentAverageValue.DeepCopy())},
		}
	}
	if s := m.Resource; s != nil {
		out.Resource = &autoscalingv2.ResourceMetricStatus{
			Name: s.Name,
			Current: autoscalingv2.MetricValueStatus{
				AverageValue:       ptr.To(s.CurrentAverageValue.DeepCopy()),
				AverageUtilization: copyInt32(s.CurrentAverageUtilization),
			},
		}
	}
	if s := m.ContainerResource; s != nil {
		out.ContainerResource = &autoscalingv2.ContainerResourceMetricStatus{
			Name: s.Name,
			Current: autoscalingv2.MetricValueStatus{
				AverageValue:       ptr.To(s.CurrentAverageValue.DeepCopy()),
				AverageUtilization: copyInt32(s.CurrentAverageUtilization),
			},
			Container: s.Container,
		}
	}
	if s := m.External; s != nil {
		out.External = &autoscalingv2.ExternalMetricStatus{
			Metric:  autoscalingv2.MetricIdentifier{Name: s.MetricName, Selector: s.MetricSelector.DeepCopy()},
			Current: autoscalingv2.MetricValueStatus{Value: ptr.To(s.CurrentValue.DeepCopy()), AverageValue: copyQuantity(s.CurrentAverageValue)},
		}
	}
	return out
}

// behaviorAnnotation and its parts have the shape of Kubernetes' internal
// HorizontalPodAutoscalerBehavior, whose JSON (no tags: Go field names) is
// what the behavior annotation holds.
type behaviorAnnotation struct {
	ScaleUp   *scalingRulesAnnotation
	ScaleDown *scalingRulesAnnotation
}

type scalingRulesAnnotation struct {
	StabilizationWindowSeconds *int32
	SelectPolicy               *autoscalingv2.ScalingPolicySelect
	Policies                   []scalingPolicyAnnotation
	Tolerance                  *resource.Quantity
}

type scalingPolicyAnnotation struct {
	Type          autoscalingv2.HPAScalingPolicyType
	Value         int32
	PeriodSeconds int32
}

func behaviorToAnnotation(b *autoscalingv2.HorizontalPodAutoscalerBehavior) *behaviorAnnotation {
	rules := func(r *autoscalingv2.HPAScalingRules) *scalingRulesAnnotation {
		if r == nil {
			return nil
		}
		out := &scalingRulesAnnotation{
			StabilizationWindowSeconds: copyInt32(r.StabilizationWindowSeconds),
			Tolerance:                  copyQuantity(r.Tolerance),
		}
		if r.SelectPolicy != nil {
			out.SelectPolicy = ptr.To(*r.SelectPolicy)
		}
		if r.Policies != nil {
			out.Policies = make([]scalingPolicyAnnotation, len(r.Policies))
			for i, p := range r.Policies {
				out.Policies[i] = scalingPolicyAnnotation(p)
			}
		}
		return out
	}
	return &behaviorAnnotation{ScaleUp: rules(b.ScaleUp), ScaleDown: rules(b.ScaleDown)}
}

func behaviorFromAnnotation(b *behaviorAnnotation) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	rules := func(r *scalingRulesAnnotation) *autoscalingv2.HPAScalingRules {
		if r == nil {
			return nil
		}
		out := &autoscalingv2.HPAScalingRules{
			StabilizationWindowSeconds: r.StabilizationWindowSeconds,
			SelectPolicy:               r.SelectPolicy,
			Tolerance:                  r.Tolerance,
		}
		if r.Policies != nil {
			out.Policies = make([]autoscalingv2.HPAScalingPolicy, len(r.Policies))
			for i, p := range r.Policies {
				out.Policies[i] = autoscalingv2.HPAScalingPolicy(p)
			}
		}
		return out
	}
	return &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(b.ScaleUp), ScaleDown: rules(b.ScaleDown)}
}

func copyInt32(p *int32) *int32 {
	if p == nil {
		return nil
	}
	return ptr.To(*p)
}

func copyInt64(p *int64) *int64 {
	if p == nil {
		return nil
	}
	return ptr.To(*p)
}

func copyQuantity(q *resource.Quantity) *resource.Quantity {
	if q == nil {
		return nil
	}
	return ptr.To(q.DeepCopy())
}

func derefQuantity(q *resource.Quantity) resource.Quantity {
	if q == nil {
		return resource.Quantity{}
	}
	return q.DeepCopy()
}
