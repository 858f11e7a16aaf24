package stats

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// The kubelet's resource metrics (its /metrics/resource endpoint).
var (
	nodeCPUDesc = prometheus.NewDesc("node_cpu_usage_seconds_total",
		"Cumulative cpu time consumed by the node in core-seconds", nil, nil)
	nodeMemoryDesc = prometheus.NewDesc("node_memory_working_set_bytes",
		"Current working set of the node in bytes", nil, nil)
	containerCPUDesc = prometheus.NewDesc("container_cpu_usage_seconds_total",
		"Cumulative cpu time consumed by the container in core-seconds", []string{"container", "pod", "namespace"}, nil)
	containerMemoryDesc = prometheus.NewDesc("container_memory_working_set_bytes",
		"Current working set of the container in bytes", []string{"container", "pod", "namespace"}, nil)
	containerStartDesc = prometheus.NewDesc("container_start_time_seconds",
		"Start time of the container since unix epoch in seconds", []string{"container", "pod", "namespace"}, nil)
	podCPUDesc = prometheus.NewDesc("pod_cpu_usage_seconds_total",
		"Cumulative cpu time consumed by the pod in core-seconds", []string{"pod", "namespace"}, nil)
	podMemoryDesc = prometheus.NewDesc("pod_memory_working_set_bytes",
		"Current working set of the pod in bytes", []string{"pod", "namespace"}, nil)
	scrapeErrorDesc = prometheus.NewDesc("scrape_error",
		"1 if there was an error while getting container metrics, 0 otherwise", nil, nil)
)

// ResourceCollector renders a Summary as the kubelet's resource metrics:
// cumulative CPU seconds (counters) and memory working sets (gauges) of the
// node, pods and containers, each sample stamped with the time it was
// read, and scrape_error 1 when the summary is incomplete.
type ResourceCollector struct {
	Summary *statsapi.Summary
	// Incomplete sets scrape_error to 1.
	Incomplete bool
}

var _ prometheus.Collector = ResourceCollector{}

// Describe implements prometheus.Collector.
func (ResourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{nodeCPUDesc, nodeMemoryDesc, containerCPUDesc, containerMemoryDesc,
		containerStartDesc, podCPUDesc, podMemoryDesc, scrapeErrorDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c ResourceCollector) Collect(ch chan<- prometheus.Metric) {
	scrapeErr := 0.0
	if c.Incomplete {
		scrapeErr = 1
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrorDesc, prometheus.GaugeValue, scrapeErr)
	s := c.Summary
	if s == nil {
		return
	}
	emitCPU(ch, nodeCPUDesc, s.Node.CPU)
	emitMemory(ch, nodeMemoryDesc, s.Node.Memory)
	for _, p := range s.Pods {
		emitCPU(ch, podCPUDesc, p.CPU, p.PodRef.Name, p.PodRef.Namespace)
		emitMemory(ch, podMemoryDesc, p.Memory, p.PodRef.Name, p.PodRef.Namespace)
		for _, ctr := range p.Containers {
			labels := []string{ctr.Name, p.PodRef.Name, p.PodRef.Namespace}
			emitCPU(ch, containerCPUDesc, ctr.CPU, labels...)
			emitMemory(ch, containerMemoryDesc, ctr.Memory, labels...)
			if !ctr.StartTime.IsZero() {
				start := ctr.StartTime.Time
				ch <- prometheus.NewMetricWithTimestamp(start,
					prometheus.MustNewConstMetric(containerStartDesc, prometheus.GaugeValue, float64(start.UnixNano())/float64(time.Second), labels...))
			}
		}
	}
}

func emitCPU(ch chan<- prometheus.Metric, d *prometheus.Desc, cpu *statsapi.CPUStats, labels ...string) {
	if cpu == nil || cpu.UsageCoreNanoSeconds == nil {
		return
	}
	v := float64(*cpu.UsageCoreNanoSeconds) / float64(time.Second)
	ch <- prometheus.NewMetricWithTimestamp(cpu.Time.Time, prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...))
}

func emitMemory(ch chan<- prometheus.Metric, d *prometheus.Desc, mem *statsapi.MemoryStats, labels ...string) {
	if mem == nil || mem.WorkingSetBytes == nil {
		return
	}
	ch <- prometheus.NewMetricWithTimestamp(mem.Time.Time, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(*mem.WorkingSetBytes), labels...))
}
