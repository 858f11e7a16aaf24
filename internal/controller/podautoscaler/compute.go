package podautoscaler

import (
	"context"
	"errors"
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// condition is one HPA condition to set.
type condition struct {
	typ     autoscalingv2.HorizontalPodAutoscalerConditionType
	status  corev1.ConditionStatus
	reason  string
	message string
}

// event is one event to record on the HPA.
type event struct {
	typ, reason, message string
}

// outcome collects what a sync decided to say: conditions in the order set
// (a later one of a type replaces an earlier) and events.
type outcome struct {
	conditions []condition
	events     []event
}

func (o *outcome) set(t autoscalingv2.HorizontalPodAutoscalerConditionType, s corev1.ConditionStatus, reason, format string, args ...any) {
	o.conditions = append(o.conditions, condition{t, s, reason, fmt.Sprintf(format, args...)})
}

func (o *outcome) warn(reason, message string) {
	o.events = append(o.events, event{corev1.EventTypeWarning, reason, message})
}

// target is what a metric calculation knows of the scale target.
type target struct {
	namespace      string
	specReplicas   int32
	statusReplicas int32
	selector       labels.Selector
	pods           []*corev1.Pod
}

// calculator computes the HPA's proposal from its metrics.
type calculator struct {
	rules podRules
	src   MetricsSource
}

// metricsProposal is the largest replica count the HPA's metrics propose
// (with that metric's name and the metrics' statuses), or -1 and an error
// when every metric failed or a failed one might have proposed more than a
// scale down: then the first failure's ScalingActive=False condition is set.
// Otherwise ScalingActive=True ValidMetricFound is set and an error from a
// failed metric is returned along with the count.
func (c calculator) metricsProposal(ctx context.Context, specs []autoscalingv2.MetricSpec, t target, o *outcome) (int32, string, []autoscalingv2.MetricStatus, error) {
	statuses := make([]autoscalingv2.MetricStatus, len(specs))
	var (
		replicas   int32
		metric     string
		invalid    int
		firstErr   error
		firstCause condition
	)
	for i, spec := range specs {
		n, name, cond, err := c.metricProposal(ctx, spec, t, &statuses[i], o)
		if err != nil {
			if invalid == 0 {
				firstErr, firstCause = err, cond
			}
			invalid++
			continue
		}
		if replicas == 0 || n > replicas {
			replicas, metric = n, name
		}
	}
	if firstErr != nil {
		firstErr = fmt.Errorf("invalid metrics (%d invalid out of %d), first error is: %w", invalid, len(specs), firstErr)
	}
	if invalid >= len(specs) || (invalid > 0 && replicas < t.specReplicas) {
		o.conditions = append(o.conditions, firstCause)
		return -1, "", statuses, firstErr
	}
	o.set(autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound",
		"the HPA was able to successfully calculate a replica count from %s", metric)
	return replicas, metric, statuses, firstErr
}

// unable is the condition a failed metric sets, with its warning event.
func unable(reason string, err error, o *outcome) condition {
	o.warn(reason, err.Error())
	return condition{autoscalingv2.ScalingActive, corev1.ConditionFalse, reason,
		fmt.Sprintf("the HPA was unable to compute the replica count: %v", err)}
}

// metricProposal is one metric's proposal and name, its status written to
// status; on failure the condition to set and the error.
func (c calculator) metricProposal(ctx context.Context, spec autoscalingv2.MetricSpec, t target,
	status *autoscalingv2.MetricStatus, o *outcome) (int32, string, condition, error) {
	var (
		n      int32
		name   string
		err    error
		reason string
	)
	switch spec.Type {
	case autoscalingv2.ResourceMetricSourceType:
		reason = "FailedGetResourceMetric"
		if spec.Resource == nil {
			err = errors.New("resource metric source is missing")
			break
		}
		var st autoscalingv2.MetricValueStatus
		n, st, name, err = c.resourceProposal(ctx, spec.Resource.Name, "", spec.Resource.Target, t)
		if err == nil {
			*status = autoscalingv2.MetricStatus{Type: spec.Type,
				Resource: &autoscalingv2.ResourceMetricStatus{Name: spec.Resource.Name, Current: st}}
		}
	case autoscalingv2.ContainerResourceMetricSourceType:
		reason = "FailedGetContainerResourceMetric"
		if spec.ContainerResource == nil {
			err = errors.New("container resource metric source is missing")
			break
		}
		var st autoscalingv2.MetricValueStatus
		cr := spec.ContainerResource
		n, st, name, err = c.resourceProposal(ctx, cr.Name, cr.Container, cr.Target, t)
		if err == nil {
			*status = autoscalingv2.MetricStatus{Type: spec.Type,
				ContainerResource: &autoscalingv2.ContainerResourceMetricStatus{Name: cr.Name, Container: cr.Container, Current: st}}
		}
	case autoscalingv2.PodsMetricSourceType:
		reason = "FailedGetPodsMetric"
		if spec.Pods == nil {
			err = errors.New("pods metric source is missing")
			break
		}
		n, err = c.podsProposal(ctx, spec.Pods, t, status)
		name = "pods metric " + spec.Pods.Metric.Name
	case autoscalingv2.ObjectMetricSourceType:
		reason = "FailedGetObjectMetric"
		if spec.Object == nil {
			err = errors.New("object metric source is missing")
			break
		}
		n, err = c.objectProposal(ctx, spec.Object, t, status)
		name = fmt.Sprintf("%s metric %s", spec.Object.DescribedObject.Kind, spec.Object.Metric.Name)
	case autoscalingv2.ExternalMetricSourceType:
		reason = "FailedGetExternalMetric"
		if spec.External == nil {
			err = errors.New("external metric source is missing")
			break
		}
		n, err = c.externalProposal(ctx, spec.External, t, status)
		name = fmt.Sprintf("external metric %s(%+v)", spec.External.Metric.Name, spec.External.Metric.Selector)
	default:
		reason = "InvalidMetricSourceType"
		err = fmt.Errorf("unknown metric source type %q", string(spec.Type))
	}
	if err != nil {
		return 0, "", unable(reason, err, o), err
	}
	return n, name, condition{}, nil
}

// resourceProposal is a Resource or ContainerResource metric's proposal.
func (c calculator) resourceProposal(ctx context.Context, res corev1.ResourceName, container string, tg autoscalingv2.MetricTarget,
	t target) (int32, autoscalingv2.MetricValueStatus, string, error) {
	kind := "resource"
	if container != "" {
		kind = "container resource"
	}
	if tg.AverageValue != nil {
		metrics, _, err := c.src.PodResource(ctx, res, t.namespace, t.selector, container)
		if err != nil {
			return 0, autoscalingv2.MetricValueStatus{}, "", fmt.Errorf("failed to get %s usage: unable to get metrics for resource %s: %w", res, res, err)
		}
		n, avg, err := c.rules.averageProposal(t.specReplicas, tg.AverageValue.MilliValue(), res, t.pods, metrics)
		if err != nil {
			return 0, autoscalingv2.MetricValueStatus{}, "", fmt.Errorf("failed to get %s usage: %w", res, err)
		}
		return n, autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(avg, resource.DecimalSI)},
			fmt.Sprintf("%s %s", res, kind), nil
	}
	if tg.AverageUtilization == nil {
		return 0, autoscalingv2.MetricValueStatus{}, "", errors.New(
			"invalid resource metric source: neither an average utilization target nor an average value (usage) target was set")
	}
	metrics, _, err := c.src.PodResource(ctx, res, t.namespace, t.selector, container)
	if err != nil {
		return 0, autoscalingv2.MetricValueStatus{}, "", fmt.Errorf("failed to get %s utilization: unable to get metrics for resource %s: %w", res, res, err)
	}
	n, util, raw, err := c.rules.utilizationProposal(t.specReplicas, *tg.AverageUtilization, res, container, t.pods, metrics)
	if err != nil {
		return 0, autoscalingv2.MetricValueStatus{}, "", fmt.Errorf("failed to get %s utilization: %w", res, err)
	}
	return n, autoscalingv2.MetricValueStatus{AverageUtilization: &util, AverageValue: resource.NewMilliQuantity(raw, resource.DecimalSI)},
		fmt.Sprintf("%s %s utilization (percentage of request)", res, kind), nil
}

// podsProposal is a Pods metric's proposal.
func (c calculator) podsProposal(ctx context.Context, spec *autoscalingv2.PodsMetricSource, t target, status *autoscalingv2.MetricStatus) (int32, error) {
	if spec.Target.AverageValue == nil {
		return 0, errors.New("invalid pods metric source: an average value target must be set")
	}
	metricSel, err := metav1.LabelSelectorAsSelector(spec.Metric.Selector)
	if err != nil {
		return 0, fmt.Errorf("failed to get pods metric value: %w", err)
	}
	metrics, _, err := c.src.PodsMetric(ctx, spec.Metric.Name, t.namespace, t.selector, metricSel)
	if err != nil {
		return 0, fmt.Errorf("failed to get pods metric value: unable to get metric %s: %w", spec.Metric.Name, err)
	}
	n, avg, err := c.rules.averageProposal(t.specReplicas, spec.Target.AverageValue.MilliValue(), "", t.pods, metrics)
	if err != nil {
		return 0, fmt.Errorf("failed to get pods metric value: %w", err)
	}
	*status = autoscalingv2.MetricStatus{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricStatus{
		Metric:  spec.Metric,
		Current: autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(avg, resource.DecimalSI)},
	}}
	return n, nil
}

// objectProposal is an Object metric's proposal.
func (c calculator) objectProposal(ctx context.Context, spec *autoscalingv2.ObjectMetricSource, t target, status *autoscalingv2.MetricStatus) (int32, error) {
	metricSel, err := metav1.LabelSelectorAsSelector(spec.Metric.Selector)
	if err != nil {
		return 0, fmt.Errorf("failed to get object metric value: %w", err)
	}
	fetch := func() (int64, error) {
		v, _, err := c.src.ObjectMetric(ctx, spec.Metric.Name, t.namespace, &spec.DescribedObject, metricSel)
		if err != nil {
			return 0, fmt.Errorf("failed to get object metric value: unable to get metric %s on %s %s/%s: %w",
				spec.Metric.Name, spec.DescribedObject.Kind, t.namespace, spec.DescribedObject.Name, err)
		}
		return v, nil
	}
	current := autoscalingv2.MetricValueStatus{}
	var n int32
	switch {
	case spec.Target.Type == autoscalingv2.ValueMetricType && spec.Target.Value != nil:
		usage, err := fetch()
		if err != nil {
			return 0, err
		}
		n, err = c.rules.ratioProposal(t.specReplicas, float64(usage)/float64(spec.Target.Value.MilliValue()), t.pods)
		if err != nil {
			return 0, fmt.Errorf("failed to get object metric value: %w", err)
		}
		current.Value = resource.NewMilliQuantity(usage, resource.DecimalSI)
	case spec.Target.Type == autoscalingv2.AverageValueMetricType && spec.Target.AverageValue != nil:
		usage, err := fetch()
		if err != nil {
			return 0, err
		}
		var avg int64
		n, avg = c.rules.perPodProposal(t.statusReplicas, usage, spec.Target.AverageValue.MilliValue())
		current.AverageValue = resource.NewMilliQuantity(avg, resource.DecimalSI)
	default:
		return 0, errors.New("invalid object metric source: neither a value target nor an average value target was set")
	}
	*status = autoscalingv2.MetricStatus{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricStatus{
		DescribedObject: spec.DescribedObject, Metric: spec.Metric, Current: current,
	}}
	return n, nil
}

// externalProposal is an External metric's proposal.
func (c calculator) externalProposal(ctx context.Context, spec *autoscalingv2.ExternalMetricSource, t target, status *autoscalingv2.MetricStatus) (int32, error) {
	metricSel, err := metav1.LabelSelectorAsSelector(spec.Metric.Selector)
	if err != nil {
		return 0, fmt.Errorf("failed to get external metric value: %w", err)
	}
	fetch := func() (int64, error) {
		vals, _, err := c.src.ExternalMetric(ctx, spec.Metric.Name, t.namespace, metricSel)
		if err != nil {
			return 0, fmt.Errorf("failed to get external metric value: unable to get external metric %s/%s/%+v: %w",
				t.namespace, spec.Metric.Name, spec.Metric.Selector, err)
		}
		var sum int64
		for _, v := range vals {
			sum += v
		}
		return sum, nil
	}
	current := autoscalingv2.MetricValueStatus{}
	var n int32
	switch {
	case spec.Target.AverageValue != nil:
		usage, err := fetch()
		if err != nil {
			return 0, err
		}
		var avg int64
		n, avg = c.rules.perPodProposal(t.statusReplicas, usage, spec.Target.AverageValue.MilliValue())
		current.AverageValue = resource.NewMilliQuantity(avg, resource.DecimalSI)
	case spec.Target.Value != nil:
		usage, err := fetch()
		if err != nil {
			return 0, err
		}
		n, err = c.rules.ratioProposal(t.specReplicas, float64(usage)/float64(spec.Target.Value.MilliValue()), t.pods)
		if err != nil {
			return 0, fmt.Errorf("failed to get external metric value: %w", err)
		}
		current.Value = resource.NewMilliQuantity(usage, resource.DecimalSI)
	default:
		return 0, errors.New("invalid external metric source: neither a value target nor an average value target was set")
	}
	*status = autoscalingv2.MetricStatus{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricStatus{
		Metric: spec.Metric, Current: current,
	}}
	return n, nil
}
