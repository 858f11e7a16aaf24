package custom

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sample is one series' value in a scrape.
type Sample struct {
	// Metric is the name the metric is served under.
	Metric string
	// Labels are the series' labels.
	Labels map[string]string
	// Counter is true for a cumulative counter, served as its rate.
	Counter bool
	Value   float64
	Time    time.Time
}

// SeriesKey names a series: its served metric name and its labels,
// canonically written.
type SeriesKey struct {
	Metric, Labels string
}

// Key is the sample's series.
func (s Sample) Key() SeriesKey {
	parts := make([]string, 0, len(s.Labels))
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		parts = append(parts, k+"="+s.Labels[k])
	}
	return SeriesKey{Metric: s.Metric, Labels: strings.Join(parts, ",")}
}

// MetricName is the name a metric family is served under, and whether it is
// a counter: counters (type counter, or untyped named *_total) are served
// as rates, http_requests_total as http_requests_per_second; gauges and
// untyped metrics under their own name. ok is false for histograms and
// summaries.
func MetricName(family string, typ dto.MetricType) (name string, counter, ok bool) {
	switch typ {
	case dto.MetricType_COUNTER:
		return strings.TrimSuffix(family, "_total") + "_per_second", true, true
	case dto.MetricType_GAUGE:
		return family, false, true
	case dto.MetricType_UNTYPED:
		if strings.HasSuffix(family, "_total") {
			return strings.TrimSuffix(family, "_total") + "_per_second", true, true
		}
		return family, false, true
	default:
		return "", false, false
	}
}

// Parse reads Prometheus text; a sample without a timestamp is taken to be
// from scraped.
func Parse(r io.Reader, scraped time.Time) ([]Sample, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("prometheus text: %w", err)
	}
	var out []Sample
	for _, name := range slices.Sorted(maps.Keys(families)) {
		f := families[name]
		metric, counter, ok := MetricName(name, f.GetType())
		if !ok {
			continue
		}
		for _, m := range f.GetMetric() {
			s := Sample{Metric: metric, Counter: counter, Labels: map[string]string{}, Time: scraped}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.Counter != nil:
				s.Value = m.GetCounter().GetValue()
			case m.Gauge != nil:
				s.Value = m.GetGauge().GetValue()
			default:
				s.Value = m.GetUntyped().GetValue()
			}
			if m.TimestampMs != nil {
				s.Time = time.UnixMilli(m.GetTimestampMs())
			}
			out = append(out, s)
		}
	}
	return out, nil
}
