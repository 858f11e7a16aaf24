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

	"skiff.dev/skiff/internal/metricstest"
)

func TestMetricsCountRequestsByRoute(t *testing.T) {
	s, _, _ := newTestServer(time.Now(), time.Time{})
	h := s.handler()
	for _, target := range []string{"/predict?input=a", "/predict?input=b", "/nope", "/health", "/"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/predict", strings.NewReader("{}")))

	families := metricstest.Scrape(t, h)
	if missing := families.Missing("http_requests_total", "http_request_duration_seconds", "go_goroutines", "process_cpu_seconds_total"); missing != nil {
		t.Fatalf("families %v missing", missing)
	}
	if typ := families["http_requests_total"].GetType(); typ != dto.MetricType_COUNTER {
		t.Errorf("http_requests_total: type %v, want a counter", typ)
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
		if got := families.Value("http_requests_total", tt.labels); got != tt.want {
			t.Errorf("http_requests_total%v = %v, want %v", tt.labels, got, tt.want)
		}
	}
	if typ := families["http_request_duration_seconds"].GetType(); typ != dto.MetricType_HISTOGRAM {
		t.Errorf("http_request_duration_seconds: type %v, want a histogram", typ)
	}
	if got := families.Value("http_request_duration_seconds", map[string]string{"method": "GET", "path": "/predict"}); got != 2 {
		t.Errorf("http_request_duration_seconds{GET /predict} count %v, want 2", got)
	}
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
