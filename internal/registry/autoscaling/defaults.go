package autoscaling

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// DefaultCPUUtilization is the CPU utilization target (percent) an HPA gets
// when it names no metric, in v2 defaulting and in v1 conversion alike.
const DefaultCPUUtilization int32 = 80

// SetDefaultsHorizontalPodAutoscaler fills in the defaults Kubernetes gives an
// autoscaling/v2 HorizontalPodAutoscaler: minReplicas 1, a CPU utilization
// metric of 80% when no metric is given, and, only when spec.behavior is
// present, every unset scaling rule field.
func SetDefaultsHorizontalPodAutoscaler(hpa *autoscalingv2.HorizontalPodAutoscaler) {
	if hpa.Spec.MinReplicas == nil {
		hpa.Spec.MinReplicas = ptr.To[int32](1)
	}
	if len(hpa.Spec.Metrics) == 0 {
		hpa.Spec.Metrics = []autoscalingv2.MetricSpec{defaultCPUMetric()}
	}
	if b := hpa.Spec.Behavior; b != nil {
		b.ScaleUp = ScaleUpRules(b.ScaleUp)
		b.ScaleDown = ScaleDownRules(b.ScaleDown)
	}
}

func defaultCPUMetric() autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU,
			Target: autoscalingv2.MetricTarget{
				Type:               autoscalingv2.UtilizationMetricType,
				AverageUtilization: ptr.To(DefaultCPUUtilization),
			},
		},
	}
}

// ScaleUpRules returns rules with every field rules leaves unset filled with
// Kubernetes' scale-up defaults: no stabilization window, the Max policy, and
// policies of 4 pods and 100 percent per 15 seconds. rules is not modified.
func ScaleUpRules(rules *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	return mergeScalingRules(rules, &autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr.To[int32](0),
		SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	})
}

// ScaleDownRules returns rules with every field rules leaves unset filled with
// Kubernetes' scale-down defaults: the Max policy and a policy of 100 percent
// per 15 seconds. As in Kubernetes, stabilizationWindowSeconds stays unset:
// the HPA controller applies its own default (300s) when it reads nil.
func ScaleDownRules(rules *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	return mergeScalingRules(rules, &autoscalingv2.HPAScalingRules{
		SelectPolicy: ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	})
}

// mergeScalingRules copies the set fields of from over defaults.
func mergeScalingRules(from, defaults *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if from == nil {
		return defaults
	}
	from = from.DeepCopy()
	if from.StabilizationWindowSeconds != nil {
		defaults.StabilizationWindowSeconds = from.StabilizationWindowSeconds
	}
	if from.SelectPolicy != nil {
		defaults.SelectPolicy = from.SelectPolicy
	}
	if from.Policies != nil {
		defaults.Policies = from.Policies
	}
	if from.Tolerance != nil {
		defaults.Tolerance = from.Tolerance
	}
	return defaults
}

// setDefaultsV1HorizontalPodAutoscaler is the autoscaling/v1 defaulter: only
// minReplicas. The CPU default of v1 is applied by conversion, which sees the
// metrics kept in annotations.
func setDefaultsV1HorizontalPodAutoscaler(hpa *autoscalingv1.HorizontalPodAutoscaler) {
	if hpa.Spec.MinReplicas == nil {
		hpa.Spec.MinReplicas = ptr.To[int32](1)
	}
}
