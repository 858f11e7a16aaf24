package kubeletserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// fixedStats is a node with one pod of one container.
type fixedStats struct{}

func (fixedStats) Summary(context.Context) (*statsapi.Summary, error) {
	at := metav1.NewTime(time.Unix(1_700_000_000, 0))
	u := func(v uint64) *uint64 { return &v }
	return &statsapi.Summary{
		Node: statsapi.NodeStats{NodeName: "node-a", CPU: &statsapi.CPUStats{Time: at, UsageCoreNanoSeconds: u(3e9), UsageNanoCores: u(5e8)}},
		Pods: []statsapi.PodStats{{
			PodRef: statsapi.PodReference{Name: "web", Namespace: "prod", UID: "u1"},
			CPU:    &statsapi.CPUStats{Time: at, UsageCoreNanoSeconds: u(1e9)},
			Memory: &statsapi.MemoryStats{Time: at, WorkingSetBytes: u(1 << 20)},
			Containers: []statsapi.ContainerStats{{
				Name: "app", StartTime: at,
				CPU:    &statsapi.CPUStats{Time: at, UsageCoreNanoSeconds: u(1e9)},
				Memory: &statsapi.MemoryStats{Time: at, WorkingSetBytes: u(1 << 20)},
			}},
		}},
	}, nil
}

func TestStatsSummary(t *testing.T) {
	h := newHarness(t)
	code, body := h.get(h.api, "/stats/summary")
	if code != 200 {
		t.Fatalf("GET /stats/summary: %d %s", code, body)
	}
	var s statsapi.Summary
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("summary %q: %v", body, err)
	}
	if s.Node.NodeName != "node-a" || s.Node.CPU == nil || *s.Node.CPU.UsageNanoCores != 5e8 || len(s.Pods) != 1 || s.Pods[0].Containers[0].Name != "app" {
		t.Errorf("summary = %s", body)
	}
}

func TestResourceMetrics(t *testing.T) {
	h := newHarness(t)
	code, body := h.get(h.api, "/metrics/resource")
	if code != 200 {
		t.Fatalf("GET /metrics/resource: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse %q: %v", body, err)
	}
	want := map[string]float64{
		"node_cpu_usage_seconds_total":       3,
		"pod_cpu_usage_seconds_total":        1,
		"pod_memory_working_set_bytes":       1 << 20,
		"container_cpu_usage_seconds_total":  1,
		"container_memory_working_set_bytes": 1 << 20,
		"container_start_time_seconds":       1_700_000_000,
		"scrape_error":                       0,
	}
	for name, v := range want {
		mf := mfs[name]
		if mf == nil || len(mf.Metric) != 1 {
			t.Errorf("%s: %v", name, mf)
			continue
		}
		m := mf.Metric[0]
		got := m.GetGauge().GetValue() + m.GetCounter().GetValue()
		if got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
}

func TestStatsAuthentication(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/stats/summary", "/metrics/resource"} {
		if code, body := h.get(nil, path); code != 401 || body != "Unauthorized" {
			t.Errorf("%s without a certificate: %d %q, want 401", path, code, body)
		}
		code, body := h.get(h.restConfig(h.ca, "system:node:node-b"), path)
		if code != 403 || !strings.Contains(body, "subresource(s)=[") {
			t.Errorf("%s as another user: %d %q, want 403", path, code, body)
		}
	}
}
