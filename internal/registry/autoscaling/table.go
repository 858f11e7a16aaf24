package autoscaling

import (
	"fmt"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff.dev/skiff/internal/registry/store"
)

// maxPrintedMetrics is how many metrics the TARGETS column shows before
// " + N more...".
const maxPrintedMetrics = 2

const unknown = "<unknown>"

// hpaRow renders REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE as kubectl
// prints them.
func hpaRow(obj runtime.Object) ([]interface{}, error) {
	hpa, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if !ok {
		return nil, fmt.Errorf("table row: unexpected type %T", obj)
	}
	reference := hpa.Spec.ScaleTargetRef.Kind + "/" + hpa.Spec.ScaleTargetRef.Name
	minPods := "<unset>"
	if hpa.Spec.MinReplicas != nil {
		minPods = fmt.Sprintf("%d", *hpa.Spec.MinReplicas)
	}
	return []interface{}{
		reference,
		formatMetrics(hpa.Spec.Metrics, hpa.Status.CurrentMetrics),
		minPods,
		int64(hpa.Spec.MaxReplicas),
		int64(hpa.Status.CurrentReplicas),
		store.Age(hpa.CreationTimestamp),
	}, nil
}

// formatMetrics renders each metric as current/target, matching statuses to
// specs by index as Kubernetes' printer does ("cpu: 12%/70%",
// "cpu: <unknown>/70%", "1k/500 (avg)").
func formatMetrics(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return "<none>"
	}
	list := make([]string, 0, len(specs))
	for i := range specs {
		var status *autoscalingv2.MetricStatus
		if i < len(statuses) {
			status = &statuses[i]
		}
		list = append(list, formatMetric(&specs[i], status))
	}
	if len(list) > maxPrintedMetrics {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:maxPrintedMetrics], ", "), len(list)-maxPrintedMetrics)
	}
	return strings.Join(list, ", ")
}

func formatMetric(spec *autoscalingv2.MetricSpec, status *autoscalingv2.MetricStatus) string {
	switch spec.Type {
	case autoscalingv2.ExternalMetricSourceType:
		if spec.External == nil {
			return "<unknown type>"
		}
		var cur *autoscalingv2.MetricValueStatus
		if status != nil && status.External != nil {
			cur = &status.External.Current
		}
		return formatValueTarget(spec.External.Target, cur)
	case autoscalingv2.PodsMetricSourceType:
		if spec.Pods == nil {
			return "<unknown type>"
		}
		current := unknown
		if status != nil && status.Pods != nil {
			current = status.Pods.Current.AverageValue.String()
		}
		return current + "/" + spec.Pods.Target.AverageValue.String()
	case autoscalingv2.ObjectMetricSourceType:
		if spec.Object == nil {
			return "<unknown type>"
		}
		var cur *autoscalingv2.MetricValueStatus
		if status != nil && status.Object != nil {
			cur = &status.Object.Current
		}
		return formatValueTarget(spec.Object.Target, cur)
	case autoscalingv2.ResourceMetricSourceType:
		if spec.Resource == nil {
			return "<unknown type>"
		}
		var cur *autoscalingv2.MetricValueStatus
		if status != nil && status.Resource != nil {
			cur = &status.Resource.Current
		}
		return spec.Resource.Name.String() + ": " + formatResourceTarget(spec.Resource.Target, cur)
	case autoscalingv2.ContainerResourceMetricSourceType:
		if spec.ContainerResource == nil {
			return "<unknown type>"
		}
		var cur *autoscalingv2.MetricValueStatus
		if status != nil && status.ContainerResource != nil {
			cur = &status.ContainerResource.Current
		}
		return spec.ContainerResource.Name.String() + ": " + formatResourceTarget(spec.ContainerResource.Target, cur)
	default:
		return "<unknown type>"
	}
}

// formatValueTarget renders an Object or External metric: an average value
// target gets " (avg)".
func formatValueTarget(target autoscalingv2.MetricTarget, cur *autoscalingv2.MetricValueStatus) string {
	current := unknown
	if target.AverageValue != nil {
		if cur != nil && cur.AverageValue != nil {
			current = cur.AverageValue.String()
		}
		return current + "/" + target.AverageValue.String() + " (avg)"
	}
	if cur != nil {
		current = cur.Value.String()
	}
	return current + "/" + target.Value.String()
}

// formatResourceTarget renders a (container) resource metric as a raw
// average value or as a utilization percentage.
func formatResourceTarget(target autoscalingv2.MetricTarget, cur *autoscalingv2.MetricValueStatus) string {
	current := unknown
	if target.AverageValue != nil {
		if cur != nil {
			current = cur.AverageValue.String()
		}
		return current + "/" + target.AverageValue.String()
	}
	if cur != nil && cur.AverageUtilization != nil {
		current = fmt.Sprintf("%d%%", *cur.AverageUtilization)
	}
	target100 := "<auto>"
	if target.AverageUtilization != nil {
		target100 = fmt.Sprintf("%d%%", *target.AverageUtilization)
	}
	return current + "/" + target100
}
