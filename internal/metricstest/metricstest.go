// Package metricstest reads Prometheus text exposition in tests: it GETs a
// /metrics handler or URL, parses the body with the Prometheus project's
// text parser, and finds samples by their labels.
package metricstest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is a parsed exposition, by metric family name.
type Families map[string]*dto.MetricFamily

// Parse parses Prometheus text.
func Parse(body string) (Families, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("not Prometheus text: %w", err)
	}
	return families, nil
}

// Scrape GETs /metrics from h and parses the answer; it fails the test
// unless the answer is 200 with Prometheus text.
func Scrape(t testing.TB, h http.Handler) Families {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return mustParse(t, rec.Code, rec.Body.String())
}

// Get GETs url with client and parses the answer; it fails the test unless
// the answer is 200 with Prometheus text.
func Get(t testing.TB, client *http.Client, url string) Families {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return mustParse(t, resp.StatusCode, string(body))
}

func mustParse(t testing.TB, code int, body string) Families {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, body %.500q", code, body)
	}
	families, err := Parse(body)
	if err != nil {
		t.Fatalf("GET /metrics: %v\n%.2000s", err, body)
	}
	return families
}

// Missing is those of names that are not families of f, sorted.
func (f Families) Missing(names ...string) []string {
	var out []string
	for _, n := range names {
		if f[n] == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Sample is the metric of family name whose labels include labels; nil when
// there is none.
func (f Families) Sample(name string, labels map[string]string) *dto.Metric {
	for _, m := range f[name].GetMetric() {
		if hasLabels(m, labels) {
			return m
		}
	}
	return nil
}

// Value is the value of the counter or gauge Sample(name, labels), or the
// sample count of a histogram or summary; 0 when there is none.
func (f Families) Value(name string, labels map[string]string) float64 {
	m := f.Sample(name, labels)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	case m.Summary != nil:
		return float64(m.GetSummary().GetSampleCount())
	default:
		return m.GetUntyped().GetValue()
	}
}

func hasLabels(m *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
