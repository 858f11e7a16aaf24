package stats

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// fakeRuntime reports fixed containers whose CPU counters the test moves.
type fakeRuntime struct {
	containers []*runtimeapi.Container
	cpu, mem   map[string]uint64 // by container ID
	at         time.Time         // timestamp of the stats
	err        error
}

func (f *fakeRuntime) ListContainers(context.Context, *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	return f.containers, nil
}

func (f *fakeRuntime) ListContainerStats(context.Context, *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []*runtimeapi.ContainerStats
	for _, c := range f.containers {
		out = append(out, &runtimeapi.ContainerStats{
			Attributes: &runtimeapi.ContainerAttributes{Id: c.Id, Labels: c.Labels},
			Cpu:        &runtimeapi.CpuUsage{Timestamp: f.at.UnixNano(), UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: f.cpu[c.Id]}},
			Memory:     &runtimeapi.MemoryUsage{Timestamp: f.at.UnixNano(), WorkingSetBytes: &runtimeapi.UInt64Value{Value: f.mem[c.Id]}},
		})
	}
	return out, nil
}

type fakeNode struct{ u Usage }

func (n *fakeNode) Read() (Usage, error) { return n.u, nil }

func ctr(id, ns, pod, uid, name string, created time.Time) *runtimeapi.Container {
	return &runtimeapi.Container{
		Id: id, CreatedAt: created.UnixNano(), State: runtimeapi.ContainerState_CONTAINER_RUNNING,
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Labels:   map[string]string{labelPodName: pod, labelPodNamespace: ns, labelPodUID: uid, labelContainerName: name},
	}
}

func TestCollectorSummary(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	now := t0
	rt := &fakeRuntime{
		containers: []*runtimeapi.Container{
			ctr("c1", "prod", "web", "u1", "app", t0.Add(-time.Minute)),
			ctr("c2", "prod", "web", "u1", "sidecar", t0.Add(-2*time.Minute)),
			ctr("c3", "dev", "db", "u2", "pg", t0.Add(-time.Hour)),
			{Id: "c4", Labels: map[string]string{}}, // not a pod's: left out
		},
		cpu: map[string]uint64{"c1": 1e9, "c2": 2e9, "c3": 0},
		mem: map[string]uint64{"c1": 10 << 20, "c2": 5 << 20, "c3": 100 << 20},
		at:  t0,
	}
	node := &fakeNode{u: Usage{CPUNanos: 50e9, MemoryUsage: 2 << 30, WorkingSetBytes: 1 << 30}}
	c := NewCollector(Config{NodeName: "n1", NodeStart: t0.Add(-24 * time.Hour), Node: node, Runtime: rt, Now: func() time.Time { return now }})

	s, err := c.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Node.NodeName != "n1" || *s.Node.CPU.UsageCoreNanoSeconds != 50e9 || *s.Node.Memory.WorkingSetBytes != 1<<30 {
		t.Errorf("node = %+v", s.Node)
	}
	if s.Node.CPU.UsageNanoCores != nil {
		t.Errorf("first sample has a rate: %d", *s.Node.CPU.UsageNanoCores)
	}
	if len(s.Pods) != 2 || s.Pods[0].PodRef.Name != "db" || s.Pods[1].PodRef.Name != "web" {
		t.Fatalf("pods = %+v, want db and web", s.Pods)
	}
	web := s.Pods[1]
	if web.PodRef != (statsapi.PodReference{Name: "web", Namespace: "prod", UID: "u1"}) || len(web.Containers) != 2 {
		t.Fatalf("web = %+v", web)
	}
	if *web.CPU.UsageCoreNanoSeconds != 3e9 || *web.Memory.WorkingSetBytes != 15<<20 {
		t.Errorf("web sums: cpu %d mem %d, want 3e9 and 15Mi", *web.CPU.UsageCoreNanoSeconds, *web.Memory.WorkingSetBytes)
	}
	if !web.StartTime.Time.Equal(t0.Add(-2 * time.Minute)) {
		t.Errorf("web start %v, want its oldest container's", web.StartTime)
	}

	// 10 s later app used half a core, sidecar a quarter, the node one core.
	now = t0.Add(10 * time.Second)
	rt.at = now
	rt.cpu["c1"] += 5e9
	rt.cpu["c2"] += 2.5e9
	node.u.CPUNanos += 10e9
	s, err = c.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantRate := func(what string, cpu *statsapi.CPUStats, want uint64) {
		t.Helper()
		if cpu == nil || cpu.UsageNanoCores == nil || *cpu.UsageNanoCores != want {
			t.Errorf("%s nanocores = %v, want %d", what, cpu, want)
		}
	}
	wantRate("node", s.Node.CPU, 1e9)
	web = s.Pods[1]
	wantRate("web", web.CPU, 7.5e8)
	wantRate("web/app", web.Containers[0].CPU, 5e8)
	wantRate("web/sidecar", web.Containers[1].CPU, 2.5e8)
	wantRate("db/pg", s.Pods[0].Containers[0].CPU, 0)

	// A runtime error still gives the node.
	rt.err = errors.New("runtime down")
	s, err = c.Summary(context.Background())
	if err == nil || s == nil || s.Node.CPU == nil || len(s.Pods) != 0 {
		t.Errorf("with a runtime error: summary %+v, err %v; want the node and an error", s, err)
	}
}

// parseMetrics renders col as Prometheus text and parses it back.
func parseMetrics(t *testing.T, col prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	out, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("parse %q: %v", buf.String(), err)
	}
	return out
}

func TestResourceCollector(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	rt := &fakeRuntime{
		containers: []*runtimeapi.Container{ctr("c1", "prod", "web", "u1", "app", t0.Add(-time.Minute))},
		cpu:        map[string]uint64{"c1": 2_500_000_000},
		mem:        map[string]uint64{"c1": 64 << 20},
		at:         t0.Add(-time.Second),
	}
	node := &fakeNode{u: Usage{CPUNanos: 90e9, WorkingSetBytes: 1 << 30}}
	c := NewCollector(Config{NodeName: "n1", Node: node, Runtime: rt, Now: func() time.Time { return t0 }})
	s, err := c.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mfs := parseMetrics(t, ResourceCollector{Summary: s})
	type sample struct {
		typ    dto.MetricType
		labels map[string]string
		value  float64
		ts     time.Time
	}
	want := map[string]sample{
		"node_cpu_usage_seconds_total":       {dto.MetricType_COUNTER, nil, 90, t0},
		"node_memory_working_set_bytes":      {dto.MetricType_GAUGE, nil, 1 << 30, t0},
		"pod_cpu_usage_seconds_total":        {dto.MetricType_COUNTER, map[string]string{"pod": "web", "namespace": "prod"}, 2.5, t0.Add(-time.Second)},
		"pod_memory_working_set_bytes":       {dto.MetricType_GAUGE, map[string]string{"pod": "web", "namespace": "prod"}, 64 << 20, t0.Add(-time.Second)},
		"container_cpu_usage_seconds_total":  {dto.MetricType_COUNTER, map[string]string{"container": "app", "pod": "web", "namespace": "prod"}, 2.5, t0.Add(-time.Second)},
		"container_memory_working_set_bytes": {dto.MetricType_GAUGE, map[string]string{"container": "app", "pod": "web", "namespace": "prod"}, 64 << 20, t0.Add(-time.Second)},
		"container_start_time_seconds":       {dto.MetricType_GAUGE, map[string]string{"container": "app", "pod": "web", "namespace": "prod"}, float64(t0.Add(-time.Minute).Unix()), t0.Add(-time.Minute)},
		"scrape_error":                       {dto.MetricType_GAUGE, nil, 0, time.Time{}},
	}
	for name, w := range want {
		mf := mfs[name]
		if mf == nil {
			t.Errorf("%s missing", name)
			continue
		}
		if mf.GetType() != w.typ || len(mf.Metric) != 1 {
			t.Errorf("%s: type %v with %d samples, want %v with 1", name, mf.GetType(), len(mf.Metric), w.typ)
			continue
		}
		m := mf.Metric[0]
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) != len(w.labels) {
			t.Errorf("%s labels %v, want %v", name, got, w.labels)
		}
		for k, v := range w.labels {
			if got[k] != v {
				t.Errorf("%s labels %v, want %v", name, got, w.labels)
			}
		}
		v := m.GetGauge().GetValue()
		if w.typ == dto.MetricType_COUNTER {
			v = m.GetCounter().GetValue()
		}
		if v != w.value {
			t.Errorf("%s = %v, want %v", name, v, w.value)
		}
		wantTS := int64(0)
		if !w.ts.IsZero() {
			wantTS = w.ts.UnixMilli()
		}
		if m.GetTimestampMs() != wantTS {
			t.Errorf("%s timestamp %d ms, want %d", name, m.GetTimestampMs(), wantTS)
		}
	}
	if got := parseMetrics(t, ResourceCollector{Incomplete: true})["scrape_error"].Metric[0].GetGauge().GetValue(); got != 1 {
		t.Errorf("incomplete: scrape_error = %v, want 1", got)
	}
}
