package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs /metrics from h and parses it as Prometheus text.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, body %q", rec.Code, rec.Body.String())
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("GET /metrics is not Prometheus text: %v\n%s", err, rec.Body.String())
	}
	return families
}

// sample finds the metric of family with exactly these labels.
func sample(f *dto.MetricFamily, labels map[string]string) *dto.Metric {
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		match := len(got) == len(labels)
		for k, v := range labels {
			match = match && got[k] == v
		}
		if match {
			return m
		}
	}
	return nil
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	s, _, _ := newTestServer(time.Now(), time.Time{})
	h := s.handler()
	for _, target := range []string{"/predict?input=a", "/predict?input=b", "/nope", "/health", "/"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/predict", strings.NewReader("{}")))

	families := scrape(t, h)
	requests := families["http_requests_total"]
	if requests.GetType() != dto.MetricType_COUNTER {
		t.Fatalf("http_requests_total: type %v, want a counter; families %v", requests.GetType(), keys(families))
	}
	for _, tt := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"code": "200", "method": "GET", "path": "/predict"}, 2},
		{map[string]string{"code": "200", "method": "POST", "path": "/predict"}, 1},
		{map[string]string{"code": "404", "method": "GET", "path": "other"}, 1},
		{map[string]string{"code": "200", "method": "GET", "path": "/health"}, 1},
		{map[string]string{"code": "200", "method": "GET", "path": "/"}, 1},
	} {
		m := sample(requests, tt.labels)
		if m == nil || m.GetCounter().GetValue() != tt.want {
			t.Errorf("http_requests_total%v = %v, want %v", tt.labels, m.GetCounter().GetValue(), tt.want)
		}
	}
	latency := families["http_request_duration_seconds"]
	if latency.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("http_request_duration_seconds: type %v, want a histogram", latency.GetType())
	}
	if m := sample(latency, map[string]string{"method": "GET", "path": "/predict"}); m.GetHistogram().GetSampleCount() != 2 {
		t.Errorf("http_request_duration_seconds{GET /predict} count %d, want 2", m.GetHistogram().GetSampleCount())
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if families[name] == nil {
			t.Errorf("family %s missing", name)
		}
	}
}

func keys(m map[string]*dto.MetricFamily) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestBurnSpendsCPU(t *testing.T) {
	s, _, _ := newTestServer(time.Now(), time.Time{})
	h := s.handler()
	before := cpuTime(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/burn?ms=200", nil))
	spent := cpuTime(t) - before
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /burn?ms=200: status %d, body %q", rec.Code, rec.Body.String())
	}
	var got burnResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.BurnedMS != 200 {
		t.Errorf("body %q, want burned_ms 200 (%v)", rec.Body.String(), err)
	}
	// The burn counts its thread's CPU time, whatever the wall time on a
	// busy machine; a little slack for the two clocks' accounting.
	if spent < 190*time.Millisecond {
		t.Errorf("GET /burn?ms=200 used %v of CPU, want about 200ms", spent)
	}
}

func TestBurnRejectsBadMilliseconds(t *testing.T) {
	s, _, _ := newTestServer(time.Now(), time.Time{})
	for _, q := range []string{"ms=abc", "ms=-1", "ms=10001", "ms=1.5"} {
		rec := httptest.NewRecorder()
		s.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/burn?"+q, nil))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "ms:") {
			t.Errorf("GET /burn?%s: status %d body %q, want 400 naming ms", q, rec.Code, rec.Body.String())
		}
	}
}
