package custom

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

func TestStoreValue(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	reqs := func(s int, code string, v float64) Sample {
		return Sample{Metric: "http_requests_per_second", Counter: true, Labels: map[string]string{"code": code}, Value: v, Time: at(s)}
	}
	gauge := func(s int, v float64) Sample {
		return Sample{Metric: "in_flight", Labels: map[string]string{}, Value: v, Time: at(s)}
	}
	pod := types.NamespacedName{Namespace: "prod", Name: "web-1"}
	everything := labels.Everything()
	only200 := labels.SelectorFromSet(labels.Set{"code": "200"})
	tests := []struct {
		name    string
		scrapes [][]Sample
		metric  string
		sel     labels.Selector
		want    Value
		ok      bool
	}{
		{
			name:    "a counter needs two scrapes",
			scrapes: [][]Sample{{reqs(0, "200", 10)}},
			metric:  "http_requests_per_second", sel: everything,
		},
		{
			name:    "a counter's rate, summed over its series",
			scrapes: [][]Sample{{reqs(0, "200", 10), reqs(0, "500", 1)}, {reqs(10, "200", 110), reqs(10, "500", 11)}},
			metric:  "http_requests_per_second", sel: everything,
			want: Value{Value: 11, Time: at(10), Window: 10 * time.Second}, ok: true,
		},
		{
			name:    "metric labels select series",
			scrapes: [][]Sample{{reqs(0, "200", 10), reqs(0, "500", 1)}, {reqs(10, "200", 110), reqs(10, "500", 11)}},
			metric:  "http_requests_per_second", sel: only200,
			want: Value{Value: 10, Time: at(10), Window: 10 * time.Second}, ok: true,
		},
		{
			name:    "no series matches",
			scrapes: [][]Sample{{reqs(0, "500", 1)}, {reqs(10, "500", 11)}},
			metric:  "http_requests_per_second", sel: only200,
		},
		{
			name:    "a reset counter counts from zero",
			scrapes: [][]Sample{{reqs(0, "200", 500)}, {reqs(5, "200", 20)}},
			metric:  "http_requests_per_second", sel: everything,
			want: Value{Value: 4, Time: at(5), Window: 5 * time.Second}, ok: true,
		},
		{
			name:    "the same sample again keeps the window",
			scrapes: [][]Sample{{reqs(0, "200", 0)}, {reqs(4, "200", 8)}, {reqs(4, "200", 8)}},
			metric:  "http_requests_per_second", sel: everything,
			want: Value{Value: 2, Time: at(4), Window: 4 * time.Second}, ok: true,
		},
		{
			name:    "a series gone from the scrape is dropped",
			scrapes: [][]Sample{{reqs(0, "200", 0), reqs(0, "500", 0)}, {reqs(1, "200", 1), reqs(1, "500", 1)}, {reqs(2, "200", 2)}},
			metric:  "http_requests_per_second", sel: everything,
			want: Value{Value: 1, Time: at(2), Window: time.Second}, ok: true,
		},
		{
			name:    "a gauge is its last value",
			scrapes: [][]Sample{{gauge(0, 3)}, {gauge(1, 5)}},
			metric:  "in_flight", sel: everything,
			want: Value{Value: 5, Time: at(1)}, ok: true,
		},
		{
			name:    "a gauge needs one scrape",
			scrapes: [][]Sample{{gauge(0, 3)}},
			metric:  "in_flight", sel: everything,
			want: Value{Value: 3, Time: at(0)}, ok: true,
		},
		{
			name:    "unknown metric",
			scrapes: [][]Sample{{gauge(0, 3)}},
			metric:  "nope", sel: everything,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore()
			for _, samples := range tt.scrapes {
				s.Update(pod, samples)
			}
			got, ok := s.Value(pod, tt.metric, tt.sel)
			if ok != tt.ok || got != tt.want {
				t.Errorf("Value = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestStoreRetainAndMetrics(t *testing.T) {
	s := NewStore()
	a, b := types.NamespacedName{Namespace: "n", Name: "a"}, types.NamespacedName{Namespace: "n", Name: "b"}
	s.Update(a, []Sample{{Metric: "x", Time: time.Unix(1, 0)}})
	s.Update(b, []Sample{{Metric: "y", Time: time.Unix(1, 0)}})
	if got := s.Metrics(); len(got) != 2 || got[0] != "x" || got[1] != "y" {
		t.Errorf("Metrics = %v, want [x y]", got)
	}
	s.Retain(map[types.NamespacedName]bool{b: true})
	if _, ok := s.Value(a, "x", labels.Everything()); ok {
		t.Error("a pod not retained still has a value")
	}
	if _, ok := s.Value(b, "y", labels.Everything()); !ok {
		t.Error("a retained pod lost its value")
	}
}
