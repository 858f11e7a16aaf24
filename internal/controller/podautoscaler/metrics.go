package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	resourceclient "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	customclient "k8s.io/metrics/pkg/client/custom_metrics"
	externalclient "k8s.io/metrics/pkg/client/external_metrics"
)

// MetricsSource is where the controller reads metrics: per-pod resource
// usage, per-pod custom metrics, one object's custom metric, and external
// metrics. Values are in milli-units.
type MetricsSource interface {
	// PodResource is each selected pod's usage of resource, summed over
	// its containers, or of the one named container.
	PodResource(ctx context.Context, resource corev1.ResourceName, namespace string, selector labels.Selector, container string) (PodMetrics, time.Time, error)
	// PodsMetric is each selected pod's value of a custom metric.
	PodsMetric(ctx context.Context, metric, namespace string, selector, metricSelector labels.Selector) (PodMetrics, time.Time, error)
	// ObjectMetric is an object's value of a custom metric.
	ObjectMetric(ctx context.Context, metric, namespace string, ref *autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector) (int64, time.Time, error)
	// ExternalMetric is the values of an external metric.
	ExternalMetric(ctx context.Context, metric, namespace string, selector labels.Selector) ([]int64, time.Time, error)
}

// APIMetrics reads metrics through the API server with the k8s.io/metrics
// clients: metrics.k8s.io/v1beta1, custom.metrics.k8s.io (the version
// discovery offers) and external.metrics.k8s.io/v1beta1.
type APIMetrics struct {
	resource resourceclient.PodMetricsesGetter
	custom   customclient.CustomMetricsClient
	external externalclient.ExternalMetricsClient
	versions customclient.AvailableAPIsGetter
}

// NewAPIMetrics builds the metrics clients from cfg; mapper maps the kinds
// of Object metrics to resources.
func NewAPIMetrics(cfg *rest.Config, disc discovery.DiscoveryInterface, mapper meta.RESTMapper) (*APIMetrics, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentType, cfg.AcceptContentTypes = "application/json", "application/json"
	res, err := resourceclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("resource metrics client: %w", err)
	}
	ext, err := externalclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("external metrics client: %w", err)
	}
	versions := customclient.NewAvailableAPIsGetter(disc)
	return &APIMetrics{
		resource: res,
		custom:   customclient.NewForConfig(cfg, mapper, versions),
		external: ext,
		versions: versions,
	}, nil
}

// Run forgets the discovered custom metrics API version every interval
// until ctx ends, so that a version served later is found.
func (m *APIMetrics) Run(ctx context.Context, interval time.Duration) {
	customclient.PeriodicallyInvalidate(m.versions, interval, ctx.Done())
}

// PodResource implements MetricsSource. A pod missing the resource in any
// of its containers is left out (so it counts as missing).
func (m *APIMetrics) PodResource(ctx context.Context, resource corev1.ResourceName, namespace string, selector labels.Selector,
	container string) (PodMetrics, time.Time, error) {
	list, err := m.resource.PodMetricses(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("unable to fetch metrics from resource metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, time.Time{}, errors.New("no metrics returned from resource metrics API")
	}
	out := make(PodMetrics, len(list.Items))
	for _, pm := range list.Items {
		var sum int64
		found := false
		missing := len(pm.Containers) == 0
		for _, c := range pm.Containers {
			if container != "" && c.Name != container {
				continue
			}
			v, ok := c.Usage[resource]
			if !ok {
				missing = true
				break
			}
			sum += v.MilliValue()
			found = true
		}
		if container != "" && !found {
			return nil, time.Time{}, fmt.Errorf("failed to get container metrics: container %s not present in metrics for pod %s/%s",
				container, pm.Namespace, pm.Name)
		}
		if !missing {
			out[pm.Name] = PodMetric{Timestamp: pm.Timestamp.Time, Window: pm.Window.Duration, Value: sum}
		}
	}
	return out, list.Items[0].Timestamp.Time, nil
}

// PodsMetric implements MetricsSource.
func (m *APIMetrics) PodsMetric(_ context.Context, metric, namespace string, selector, metricSelector labels.Selector) (PodMetrics, time.Time, error) {
	list, err := m.custom.NamespacedMetrics(namespace).GetForObjects(schema.GroupKind{Kind: "Pod"}, selector, metric, metricSelector)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, time.Time{}, errors.New("no metrics returned from custom metrics API")
	}
	out := make(PodMetrics, len(list.Items))
	for _, v := range list.Items {
		window := time.Minute
		if v.WindowSeconds != nil {
			window = time.Duration(*v.WindowSeconds) * time.Second
		}
		out[v.DescribedObject.Name] = PodMetric{Timestamp: v.Timestamp.Time, Window: window, Value: v.Value.MilliValue()}
	}
	return out, list.Items[0].Timestamp.Time, nil
}

// ObjectMetric implements MetricsSource.
func (m *APIMetrics) ObjectMetric(_ context.Context, metric, namespace string, ref *autoscalingv2.CrossVersionObjectReference,
	metricSelector labels.Selector) (int64, time.Time, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("unable to parse the API version of %s %s: %w", ref.Kind, ref.Name, err)
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: ref.Kind}
	var scope customclient.MetricsInterface
	if gk.Kind == "Namespace" && gk.Group == "" {
		scope = m.custom.RootScopedMetrics()
	} else {
		scope = m.custom.NamespacedMetrics(namespace)
	}
	v, err := scope.GetForObject(gk, ref.Name, metric, metricSelector)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	return v.Value.MilliValue(), v.Timestamp.Time, nil
}

// ExternalMetric implements MetricsSource.
func (m *APIMetrics) ExternalMetric(_ context.Context, metric, namespace string, selector labels.Selector) ([]int64, time.Time, error) {
	list, err := m.external.NamespacedMetrics(namespace).List(metric, selector)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("unable to fetch metrics from external metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, time.Time{}, errors.New("no metrics returned from external metrics API")
	}
	out := make([]int64, 0, len(list.Items))
	for _, v := range list.Items {
		out = append(out, v.Value.MilliValue())
	}
	return out, list.Items[0].Timestamp.Time, nil
}
