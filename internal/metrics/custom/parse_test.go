package custom

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
)

func TestMetricName(t *testing.T) {
	tests := []struct {
		family  string
		typ     dto.MetricType
		name    string
		counter bool
		ok      bool
	}{
		{"http_requests_total", dto.MetricType_COUNTER, "http_requests_per_second", true, true},
		{"bytes_sent", dto.MetricType_COUNTER, "bytes_sent_per_second", true, true},
		{"jobs_total", dto.MetricType_UNTYPED, "jobs_per_second", true, true},
		{"queue_length", dto.MetricType_UNTYPED, "queue_length", false, true},
		{"in_flight", dto.MetricType_GAUGE, "in_flight", false, true},
		{"latency_seconds", dto.MetricType_HISTOGRAM, "", false, false},
		{"latency_quantiles", dto.MetricType_SUMMARY, "", false, false},
	}
	for _, tt := range tests {
		name, counter, ok := MetricName(tt.family, tt.typ)
		if name != tt.name || counter != tt.counter || ok != tt.ok {
			t.Errorf("MetricName(%s, %s) = %q, %v, %v; want %q, %v, %v", tt.family, tt.typ, name, counter, ok, tt.name, tt.counter, tt.ok)
		}
	}
}

func TestParse(t *testing.T) {
	scraped := time.Unix(1767225600, 0)
	text := `# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{code="200",path="/predict"} 1027
http_requests_total{code="500",path="/predict"} 3 1767225500000
# TYPE in_flight gauge
in_flight 2
# TYPE request_duration_seconds histogram
request_duration_seconds_bucket{le="0.1"} 1
request_duration_seconds_bucket{le="+Inf"} 2
request_duration_seconds_sum 0.3
request_duration_seconds_count 2
`
	got, err := Parse(strings.NewReader(text), scraped)
	if err != nil {
		t.Fatal(err)
	}
	want := []Sample{
		{Metric: "http_requests_per_second", Counter: true, Labels: map[string]string{"code": "200", "path": "/predict"}, Value: 1027, Time: scraped},
		{Metric: "http_requests_per_second", Counter: true, Labels: map[string]string{"code": "500", "path": "/predict"}, Value: 3, Time: time.UnixMilli(1767225500000)},
		{Metric: "in_flight", Labels: map[string]string{}, Value: 2, Time: scraped},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if k := want[0].Key(); k != (SeriesKey{Metric: "http_requests_per_second", Labels: "code=200,path=/predict"}) {
		t.Errorf("Key = %+v", k)
	}
	if _, err := Parse(strings.NewReader("broken{ 1\n"), scraped); err == nil {
		t.Error("Parse of broken text: no error")
	}
}
