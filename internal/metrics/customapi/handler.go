package customapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	corelisters "k8s.io/client-go/listers/core/v1"
	cmv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"

	"skiff.dev/skiff/internal/metrics/custom"
)

// Values is where metric values are read (a *custom.Store).
type Values interface {
	Value(pod types.NamespacedName, metric string, sel labels.Selector) (custom.Value, bool)
	Metrics() []string
}

// Workloads finds the pods of a workload that owns pods, for Object
// metrics.
type Workloads interface {
	// Selector returns the object's pod selector and its reference; a
	// resource it does not know is a NotFound error.
	Selector(ctx context.Context, resource schema.GroupResource, namespace, name string) (labels.Selector, corev1.ObjectReference, error)
}

// Handler serves the custom metrics API under Prefix.
type Handler struct {
	Values    Values
	Pods      corelisters.PodLister
	Workloads Workloads
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeStatus(w, apierrors.NewMethodNotSupported(schema.GroupResource{Group: Group}, strings.ToLower(r.Method)))
		return
	}
	if r.URL.Path == "/apis/"+Group || r.URL.Path == "/apis/"+Group+"/" {
		writeJSON(w, http.StatusOK, APIGroup())
		return
	}
	if r.URL.Path != Prefix && !strings.HasPrefix(r.URL.Path, Prefix+"/") {
		writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Group: Group}, r.URL.Path))
		return
	}
	req, err := parsePath(strings.TrimPrefix(r.URL.Path, Prefix))
	if err != nil {
		writeStatus(w, apierrors.NewGenericServerResponse(http.StatusNotFound, "get", schema.GroupResource{Group: Group}, "", err.Error(), 0, false))
		return
	}
	if req.discovery {
		writeJSON(w, http.StatusOK, h.resourceList())
		return
	}
	q := r.URL.Query()
	sel, err := parseSelector(q.Get("labelSelector"), "labelSelector")
	if err != nil {
		writeStatus(w, err)
		return
	}
	metricSel, err := parseSelector(q.Get("metricLabelSelector"), "metricLabelSelector")
	if err != nil {
		writeStatus(w, err)
		return
	}
	list, err := h.get(r.Context(), req, sel, metricSel)
	if err != nil {
		writeStatus(w, err)
		return
	}
	list.Kind, list.APIVersion = "MetricValueList", Group+"/"+Version
	if list.Items == nil {
		list.Items = []cmv1beta2.MetricValue{}
	}
	writeJSON(w, http.StatusOK, list)
}

// get values the metric of the objects req names.
func (h *Handler) get(ctx context.Context, req request, sel, metricSel labels.Selector) (*cmv1beta2.MetricValueList, error) {
	identifier := cmv1beta2.MetricIdentifier{Name: req.Metric}
	if !metricSel.Empty() {
		ls, err := metav1.ParseToLabelSelector(metricSel.String())
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		identifier.Selector = ls
	}
	item := func(ref corev1.ObjectReference, v custom.Value) cmv1beta2.MetricValue {
		m := cmv1beta2.MetricValue{DescribedObject: ref, Metric: identifier, Timestamp: metav1.NewTime(v.Time), Value: quantity(v.Value)}
		if v.Window > 0 {
			seconds := int64(math.Round(v.Window.Seconds()))
			m.WindowSeconds = &seconds
		}
		return m
	}
	list := &cmv1beta2.MetricValueList{}
	switch {
	case req.Resource == schema.GroupResource{Resource: "pods"} && req.Namespace != "":
		pods, err := h.pods(req.Namespace, req.Name, sel)
		if err != nil {
			return nil, err
		}
		for _, p := range pods {
			if v, ok := h.Values.Value(types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, req.Metric, metricSel); ok {
				list.Items = append(list.Items, item(podRef(p), v))
			}
		}
		if req.Name != AllObjects && len(list.Items) == 0 {
			return nil, metricNotFound(req)
		}
		return list, nil
	case req.Resource == schema.GroupResource{Resource: "namespaces"} && req.Namespace != "":
		pods, err := h.Pods.Pods(req.Namespace).List(labels.Everything())
		if err != nil {
			return nil, fmt.Errorf("custom metrics: pods of namespace %s: %w", req.Namespace, err)
		}
		v, ok := h.sum(pods, req.Metric, metricSel)
		if !ok {
			return nil, metricNotFound(req)
		}
		list.Items = append(list.Items, item(corev1.ObjectReference{Kind: "Namespace", Name: req.Namespace, APIVersion: "v1"}, v))
		return list, nil
	case req.Namespace != "" && req.Name != AllObjects && h.Workloads != nil:
		podSel, ref, err := h.Workloads.Selector(ctx, req.Resource, req.Namespace, req.Name)
		if err != nil {
			return nil, err
		}
		pods, err := h.Pods.Pods(req.Namespace).List(podSel)
		if err != nil {
			return nil, fmt.Errorf("custom metrics: pods of %s %s/%s: %w", req.Resource, req.Namespace, req.Name, err)
		}
		v, ok := h.sum(pods, req.Metric, metricSel)
		if !ok {
			return nil, metricNotFound(req)
		}
		list.Items = append(list.Items, item(ref, v))
		return list, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Group: Group, Resource: req.Resource.String()}, req.Name)
}

// pods are the namespace's pods that name selects: the one named, or
// those sel matches.
func (h *Handler) pods(namespace, name string, sel labels.Selector) ([]*corev1.Pod, error) {
	if name != AllObjects {
		p, err := h.Pods.Pods(namespace).Get(name)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("custom metrics: pod %s/%s: %w", namespace, name, err)
		}
		return []*corev1.Pod{p}, nil
	}
	pods, err := h.Pods.Pods(namespace).List(sel)
	if err != nil {
		return nil, fmt.Errorf("custom metrics: pods of namespace %s: %w", namespace, err)
	}
	return pods, nil
}

// sum adds up the metric over the pods that have it; ok is false when
// none has.
func (h *Handler) sum(pods []*corev1.Pod, metric string, metricSel labels.Selector) (custom.Value, bool) {
	var (
		total custom.Value
		found bool
	)
	for _, p := range pods {
		v, ok := h.Values.Value(types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, metric, metricSel)
		if !ok {
			continue
		}
		found = true
		total.Value += v.Value
		if v.Time.After(total.Time) {
			total.Time = v.Time
		}
		total.Window = max(total.Window, v.Window)
	}
	return total, found
}

func podRef(p *corev1.Pod) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, APIVersion: "v1"}
}

// quantity is v with milli precision.
func quantity(v float64) resource.Quantity {
	return *resource.NewMilliQuantity(int64(math.Round(v*1000)), resource.DecimalSI)
}

// metricNotFound is custom-metrics-apiserver's error for a metric the
// object does not have.
func metricNotFound(req request) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure,
		Code:   http.StatusNotFound,
		Reason: metav1.StatusReasonNotFound,
		Details: &metav1.StatusDetails{
			Group: req.Resource.Group, Kind: req.Resource.Resource, Name: req.Name,
		},
		Message: fmt.Sprintf("the server could not find the metric %s for %s %s", req.Metric, req.Resource.String(), req.Name),
	}}
}

func parseSelector(s, name string) (labels.Selector, error) {
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, apierrors.NewBadRequest(field.Invalid(field.NewPath(name), s, err.Error()).Error())
	}
	return sel, nil
}

// workloadResources are the Object metrics' resources besides pods and
// namespaces, listed in discovery.
var workloadResources = []string{"deployments.apps", "replicasets.apps", "statefulsets.apps"}

// resourceList is the group version's discovery document: every metric a
// pod has, for pods, namespaces and the workloads.
func (h *Handler) resourceList() *metav1.APIResourceList {
	list := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: Group + "/" + Version,
		APIResources: []metav1.APIResource{},
	}
	for _, m := range h.Values.Metrics() {
		for _, r := range append([]string{"pods", "namespaces"}, workloadResources...) {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: r + "/" + m, Namespaced: r != "namespaces", Kind: "MetricValueList", Verbs: metav1.Verbs{"get"},
			})
		}
	}
	return list
}

// APIGroup is the group as /apis lists it.
func APIGroup() metav1.APIGroup { return apiGroup(Group, Version) }

func apiGroup(group, version string) metav1.APIGroup {
	gv := metav1.GroupVersionForDiscovery{GroupVersion: group + "/" + version, Version: version}
	return metav1.APIGroup{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
		Name:     group, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv,
	}
}

func writeStatus(w http.ResponseWriter, err error) {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		status = apierrors.NewInternalError(err)
	}
	s := status.Status()
	s.Kind, s.APIVersion = "Status", "v1"
	writeJSON(w, int(s.Code), &s)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
