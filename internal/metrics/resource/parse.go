package resource

import (
	"fmt"
	"io"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The metric families of the kubelet's /metrics/resource that usage is made
// of.
const (
	nodeCPU         = "node_cpu_usage_seconds_total"
	nodeMemory      = "node_memory_working_set_bytes"
	containerCPU    = "container_cpu_usage_seconds_total"
	containerMemory = "container_memory_working_set_bytes"
	containerStart  = "container_start_time_seconds"
)

// ContainerKey names a container of a pod.
type ContainerKey struct {
	Namespace, Pod, Container string
}

// PodKey names a pod.
type PodKey struct {
	Namespace, Name string
}

// Pod is the pod the container belongs to.
func (k ContainerKey) PodKey() PodKey { return PodKey{Namespace: k.Namespace, Name: k.Pod} }

// Batch is what one scrape of a node returned.
type Batch struct {
	// Node is the node's own reading; nil when the node reported none.
	Node *Point
	// Containers are the readings of the containers on the node. A
	// container is left out unless it reported both CPU and memory.
	Containers map[ContainerKey]Point
}

// Parse reads the Prometheus text of a kubelet's /metrics/resource. A
// sample without a timestamp is taken to be from scraped, when the scrape
// was made.
func Parse(r io.Reader, scraped time.Time) (Batch, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return Batch{}, fmt.Errorf("resource metrics: %w", err)
	}
	b := Batch{Containers: map[ContainerKey]Point{}}
	if cpu := families[nodeCPU]; cpu != nil && len(cpu.GetMetric()) > 0 {
		m := cpu.GetMetric()[0]
		p := Point{Time: sampleTime(m, scraped), CPUSeconds: value(m)}
		if mem := families[nodeMemory]; mem != nil && len(mem.GetMetric()) > 0 {
			p.MemoryBytes = uint64(value(mem.GetMetric()[0]))
			b.Node = &p
		}
	}
	memory := map[ContainerKey]uint64{}
	for _, m := range families[containerMemory].GetMetric() {
		if k, ok := containerKey(m); ok {
			memory[k] = uint64(value(m))
		}
	}
	started := map[ContainerKey]time.Time{}
	for _, m := range families[containerStart].GetMetric() {
		if k, ok := containerKey(m); ok {
			started[k] = time.Unix(0, int64(value(m)*1e9)).Truncate(time.Second)
		}
	}
	for _, m := range families[containerCPU].GetMetric() {
		k, ok := containerKey(m)
		if !ok {
			continue
		}
		mem, ok := memory[k]
		if !ok {
			continue
		}
		b.Containers[k] = Point{Time: sampleTime(m, scraped), StartTime: started[k], CPUSeconds: value(m), MemoryBytes: mem}
	}
	return b, nil
}

func containerKey(m *dto.Metric) (ContainerKey, bool) {
	var k ContainerKey
	for _, l := range m.GetLabel() {
		switch l.GetName() {
		case "namespace":
			k.Namespace = l.GetValue()
		case "pod":
			k.Pod = l.GetValue()
		case "container":
			k.Container = l.GetValue()
		}
	}
	return k, k.Namespace != "" && k.Pod != "" && k.Container != ""
}

// value is the value of a counter, gauge or untyped sample.
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	default:
		return m.GetUntyped().GetValue()
	}
}

func sampleTime(m *dto.Metric, scraped time.Time) time.Time {
	if m.TimestampMs == nil {
		return scraped
	}
	return time.UnixMilli(m.GetTimestampMs())
}
