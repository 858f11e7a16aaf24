package resourceapi

import (
	"cmp"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/metrics/pkg/apis/metrics"
)

// columns are those metrics-server shows for `kubectl get nodes.metrics.k8s.io`
// and pods: the usage summed over a pod's containers and the window it was
// measured over.
var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the resource"},
	{Name: "CPU", Type: "string", Format: "", Description: "CPU usage"},
	{Name: "Memory", Type: "string", Format: "", Description: "Memory usage"},
	{Name: "Window", Type: "string", Format: "", Description: "Interval the usage was measured over"},
}

func nodeTable(obj runtime.Object) (*metav1.Table, error) {
	t := &metav1.Table{ColumnDefinitions: columns}
	add := func(m *metrics.NodeMetrics) {
		t.Rows = append(t.Rows, row(m, m.Name, m.Usage, m.Window))
	}
	switch o := obj.(type) {
	case *metrics.NodeMetrics:
		add(o)
	case *metrics.NodeMetricsList:
		for i := range o.Items {
			add(&o.Items[i])
		}
		t.ResourceVersion, t.Continue = o.ResourceVersion, o.Continue
	default:
		return nil, fmt.Errorf("node metrics table: unexpected %T", obj)
	}
	return t, nil
}

func podTable(obj runtime.Object) (*metav1.Table, error) {
	t := &metav1.Table{ColumnDefinitions: columns}
	add := func(m *metrics.PodMetrics) {
		sum := corev1.ResourceList{}
		for _, c := range m.Containers {
			for name, q := range c.Usage {
				total := sum[name]
				total.Add(q)
				sum[name] = total
			}
		}
		t.Rows = append(t.Rows, row(m, m.Name, sum, m.Window))
	}
	switch o := obj.(type) {
	case *metrics.PodMetrics:
		add(o)
	case *metrics.PodMetricsList:
		for i := range o.Items {
			add(&o.Items[i])
		}
		t.ResourceVersion, t.Continue = o.ResourceVersion, o.Continue
	default:
		return nil, fmt.Errorf("pod metrics table: unexpected %T", obj)
	}
	return t, nil
}

func row(obj runtime.Object, name string, usage corev1.ResourceList, window metav1.Duration) metav1.TableRow {
	cpu, mem := usage[corev1.ResourceCPU], usage[corev1.ResourceMemory]
	return metav1.TableRow{
		Cells:  []any{name, cpu.String(), mem.String(), window.Duration.String()},
		Object: runtime.RawExtension{Object: obj},
	}
}

func sortByName[T any](items []T, key func(T) string) {
	slices.SortFunc(items, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
}
