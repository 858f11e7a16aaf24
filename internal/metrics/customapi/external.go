package customapi

import (
	"fmt"
	"math"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	emv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
)

// ExternalGroup and ExternalVersion are the external metrics API served.
const (
	ExternalGroup   = "external.metrics.k8s.io"
	ExternalVersion = "v1beta1"
)

// ExternalPrefix is the path of the external group version.
const ExternalPrefix = "/apis/" + ExternalGroup + "/" + ExternalVersion

// ExternalHandler serves external.metrics.k8s.io over the same scraped
// values, as prometheus-adapter's external rules do: a metric of a
// namespace (namespaces/{ns}/{metric}) is the sum over the namespace's pods
// of the series whose labels labelSelector matches, one item. It is how an
// HPA scales one workload on a metric that another workload's pods export
// (a queue's depth, say), with no adapter installed.
type ExternalHandler struct {
	Handler
}

func (h *ExternalHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gr := schema.GroupResource{Group: ExternalGroup}
	if r.Method != http.MethodGet {
		writeStatus(w, apierrors.NewMethodNotSupported(gr, strings.ToLower(r.Method)))
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch path {
	case "/apis/" + ExternalGroup:
		writeJSON(w, http.StatusOK, ExternalAPIGroup())
		return
	case ExternalPrefix:
		writeJSON(w, http.StatusOK, h.externalResourceList())
		return
	}
	parts := strings.Split(strings.TrimPrefix(path, ExternalPrefix+"/"), "/")
	if !strings.HasPrefix(path, ExternalPrefix+"/") || len(parts) != 3 || parts[0] != "namespaces" || parts[1] == "" || parts[2] == "" {
		writeStatus(w, apierrors.NewNotFound(gr, r.URL.Path))
		return
	}
	namespace, metric := parts[1], parts[2]
	sel, err := parseSelector(r.URL.Query().Get("labelSelector"), "labelSelector")
	if err != nil {
		writeStatus(w, err)
		return
	}
	pods, err := h.Pods.Pods(namespace).List(labels.Everything())
	if err != nil {
		writeStatus(w, fmt.Errorf("external metrics: pods of namespace %s: %w", namespace, err))
		return
	}
	v, ok := h.sum(pods, metric, sel)
	if !ok {
		writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Group: ExternalGroup, Resource: metric}, namespace))
		return
	}
	item := emv1beta1.ExternalMetricValue{MetricName: metric, MetricLabels: equalities(sel), Timestamp: metav1.NewTime(v.Time), Value: quantity(v.Value)}
	if v.Window > 0 {
		seconds := int64(math.Round(v.Window.Seconds()))
		item.WindowSeconds = &seconds
	}
	writeJSON(w, http.StatusOK, &emv1beta1.ExternalMetricValueList{
		TypeMeta: metav1.TypeMeta{Kind: "ExternalMetricValueList", APIVersion: ExternalGroup + "/" + ExternalVersion},
		Items:    []emv1beta1.ExternalMetricValue{item},
	})
}

// equalities are the label values sel pins, the labels of the one series
// the answer stands for.
func equalities(sel labels.Selector) map[string]string {
	out := map[string]string{}
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		if v, ok := r.Values().PopAny(); ok && r.Values().Len() == 1 && (r.Operator() == "=" || r.Operator() == "==") {
			out[r.Key()] = v
		}
	}
	return out
}

// externalResourceList lists every scraped metric, as external metrics
// adapters list theirs.
func (h *ExternalHandler) externalResourceList() *metav1.APIResourceList {
	list := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: ExternalGroup + "/" + ExternalVersion,
		APIResources: []metav1.APIResource{},
	}
	for _, m := range h.Values.Metrics() {
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: m, Namespaced: true, Kind: "ExternalMetricValueList", Verbs: metav1.Verbs{"get"},
		})
	}
	return list
}

// ExternalAPIGroup is the external group as /apis lists it.
func ExternalAPIGroup() metav1.APIGroup { return apiGroup(ExternalGroup, ExternalVersion) }
