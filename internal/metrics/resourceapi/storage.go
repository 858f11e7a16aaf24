package resourceapi

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/metrics/pkg/apis/metrics"

	usage "skiff.dev/skiff/internal/metrics/resource"
)

// Usage is where the storage reads usage (a *resource.Store).
type Usage interface {
	NodeUsage(node string) (usage.Usage, bool)
	PodUsage(pod usage.PodKey) (usage.PodUsage, bool)
}

// Storage returns the metrics.k8s.io resources by path: nodes and pods.
func Storage(u Usage, nodes corelisters.NodeLister, pods corelisters.PodLister) map[string]rest.Storage {
	return map[string]rest.Storage{
		"nodes": &nodeStorage{usage: u, nodes: nodes},
		"pods":  &podStorage{usage: u, pods: pods},
	}
}

var (
	nodesResource = metrics.Resource("nodes")
	podsResource  = metrics.Resource("pods")
)

// nodeStorage serves NodeMetrics, cluster-scoped.
type nodeStorage struct {
	usage Usage
	nodes corelisters.NodeLister
}

var (
	_ rest.Storage              = &nodeStorage{}
	_ rest.Getter               = &nodeStorage{}
	_ rest.Lister               = &nodeStorage{}
	_ rest.Scoper               = &nodeStorage{}
	_ rest.SingularNameProvider = &nodeStorage{}
)

func (s *nodeStorage) New() runtime.Object     { return &metrics.NodeMetrics{} }
func (s *nodeStorage) NewList() runtime.Object { return &metrics.NodeMetricsList{} }
func (s *nodeStorage) Destroy()                {}
func (s *nodeStorage) NamespaceScoped() bool   { return false }
func (s *nodeStorage) GetSingularName() string { return "" }

func (s *nodeStorage) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return nodeTable(obj)
}

func (s *nodeStorage) Get(_ context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	node, err := s.nodes.Get(name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(nodesResource, name)
		}
		return nil, fmt.Errorf("node metrics of %s: %w", name, err)
	}
	m, ok := s.metrics(node)
	if !ok {
		return nil, apierrors.NewNotFound(nodesResource, name)
	}
	return m, nil
}

func (s *nodeStorage) List(_ context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	sel, fieldSel := selectors(opts)
	nodes, err := s.nodes.List(sel)
	if err != nil {
		return nil, fmt.Errorf("node metrics: listing nodes: %w", err)
	}
	list := &metrics.NodeMetricsList{}
	for _, n := range nodes {
		m, ok := s.metrics(n)
		if !ok || !fieldSel.Matches(objectFields(&m.ObjectMeta)) {
			continue
		}
		list.Items = append(list.Items, *m)
	}
	sortByName(list.Items, func(m metrics.NodeMetrics) string { return m.Name })
	return list, nil
}

func (s *nodeStorage) metrics(node *corev1.Node) (*metrics.NodeMetrics, bool) {
	u, ok := s.usage.NodeUsage(node.Name)
	if !ok {
		return nil, false
	}
	return &metrics.NodeMetrics{
		ObjectMeta: objectMeta(&node.ObjectMeta),
		Timestamp:  metav1.NewTime(u.Time),
		Window:     metav1.Duration{Duration: u.Window},
		Usage:      resourceList(u.NanoCores, u.MemoryBytes),
	}, true
}

// podStorage serves PodMetrics, namespaced.
type podStorage struct {
	usage Usage
	pods  corelisters.PodLister
}

var (
	_ rest.Storage              = &podStorage{}
	_ rest.Getter               = &podStorage{}
	_ rest.Lister               = &podStorage{}
	_ rest.Scoper               = &podStorage{}
	_ rest.SingularNameProvider = &podStorage{}
)

func (s *podStorage) New() runtime.Object     { return &metrics.PodMetrics{} }
func (s *podStorage) NewList() runtime.Object { return &metrics.PodMetricsList{} }
func (s *podStorage) Destroy()                {}
func (s *podStorage) NamespaceScoped() bool   { return true }
func (s *podStorage) GetSingularName() string { return "" }

func (s *podStorage) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return podTable(obj)
}

func (s *podStorage) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	ns := genericapirequest.NamespaceValue(ctx)
	pod, err := s.pods.Pods(ns).Get(name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(podsResource, name)
		}
		return nil, fmt.Errorf("pod metrics of %s/%s: %w", ns, name, err)
	}
	m, ok := s.metrics(pod)
	if !ok {
		return nil, apierrors.NewNotFound(podsResource, name)
	}
	return m, nil
}

func (s *podStorage) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	sel, fieldSel := selectors(opts)
	ns := genericapirequest.NamespaceValue(ctx)
	var (
		pods []*corev1.Pod
		err  error
	)
	if ns == metav1.NamespaceAll {
		pods, err = s.pods.List(sel)
	} else {
		pods, err = s.pods.Pods(ns).List(sel)
	}
	if err != nil {
		return nil, fmt.Errorf("pod metrics: listing pods of namespace %q: %w", ns, err)
	}
	list := &metrics.PodMetricsList{}
	for _, p := range pods {
		m, ok := s.metrics(p)
		if !ok || !fieldSel.Matches(objectFields(&m.ObjectMeta)) {
			continue
		}
		list.Items = append(list.Items, *m)
	}
	sortByName(list.Items, func(m metrics.PodMetrics) string { return m.Namespace + "/" + m.Name })
	return list, nil
}

func (s *podStorage) metrics(pod *corev1.Pod) (*metrics.PodMetrics, bool) {
	u, ok := s.usage.PodUsage(usage.PodKey{Namespace: pod.Namespace, Name: pod.Name})
	if !ok {
		return nil, false
	}
	m := &metrics.PodMetrics{
		ObjectMeta: objectMeta(&pod.ObjectMeta),
		Timestamp:  metav1.NewTime(u.Time),
		Window:     metav1.Duration{Duration: u.Window},
	}
	for _, c := range u.Containers {
		m.Containers = append(m.Containers, metrics.ContainerMetrics{Name: c.Name, Usage: resourceList(c.NanoCores, c.MemoryBytes)})
	}
	return m, true
}

// objectMeta is the metadata of the metrics of an object: its name,
// namespace and labels, created now (as metrics-server).
func objectMeta(of *metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: of.Name, Namespace: of.Namespace, Labels: of.Labels,
		CreationTimestamp: metav1.NewTime(time.Now()),
	}
}

func resourceList(nanoCores, memoryBytes uint64) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewScaledQuantity(int64(nanoCores), resource.Nano),
		corev1.ResourceMemory: *resource.NewQuantity(int64(memoryBytes), resource.BinarySI),
	}
}

// selectors are the label and field selectors of a list, everything when
// none is given.
func selectors(opts *metainternalversion.ListOptions) (labels.Selector, fields.Selector) {
	sel, fieldSel := labels.Everything(), fields.Everything()
	if opts != nil && opts.LabelSelector != nil {
		sel = opts.LabelSelector
	}
	if opts != nil && opts.FieldSelector != nil {
		fieldSel = opts.FieldSelector
	}
	return sel, fieldSel
}

// objectFields are the fields a field selector may name.
func objectFields(m *metav1.ObjectMeta) fields.Set {
	set := fields.Set{"metadata.name": m.Name}
	if m.Namespace != "" {
		set["metadata.namespace"] = m.Namespace
	}
	return set
}

// GroupVersions are the versions of metrics.k8s.io served, most preferred
// first.
var GroupVersions = []schema.GroupVersion{{Group: metrics.GroupName, Version: "v1beta1"}}
