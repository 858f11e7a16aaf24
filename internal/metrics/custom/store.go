package custom

import (
	"maps"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Value is a metric's value at Time; for a rate, over Window.
type Value struct {
	Value  float64
	Time   time.Time
	Window time.Duration
}

// series is the last two samples of a series.
type series struct {
	prev, cur Sample
	hasPrev   bool
}

// value is the series' value: a gauge's last sample, a counter's rate
// between its two samples (a counter that went down was reset: its whole
// value is the increase, as Prometheus' rate() takes it).
func (s series) value() (Value, bool) {
	if !s.cur.Counter {
		return Value{Value: s.cur.Value, Time: s.cur.Time}, true
	}
	if !s.hasPrev {
		return Value{}, false
	}
	window := s.cur.Time.Sub(s.prev.Time)
	if window <= 0 {
		return Value{}, false
	}
	increase := s.cur.Value - s.prev.Value
	if increase < 0 {
		increase = s.cur.Value
	}
	return Value{Value: increase / window.Seconds(), Time: s.cur.Time, Window: window}, true
}

// podEntry is what the store holds of one pod.
type podEntry map[SeriesKey]series

// merge is the pod's entry after a scrape returned samples: each sample
// advances its series (a sample no newer than the last is the same one
// again), and series the scrape no longer has are dropped.
func merge(old podEntry, samples []Sample) podEntry {
	next := make(podEntry, len(samples))
	for _, s := range samples {
		k := s.Key()
		prev, had := old[k]
		switch {
		case had && s.Time.After(prev.cur.Time) && prev.cur.Counter == s.Counter:
			next[k] = series{prev: prev.cur, cur: s, hasPrev: true}
		case had && s.Time.Equal(prev.cur.Time):
			next[k] = prev
		default:
			next[k] = series{cur: s}
		}
	}
	return next
}

// query sums the values of the pod's series of metric whose labels match
// sel; ok is false when none has a value. The sum is at the latest of their
// times, over the longest of their windows.
func query(e podEntry, metric string, sel labels.Selector) (Value, bool) {
	var (
		sum Value
		ok  bool
	)
	for k, s := range e {
		if k.Metric != metric || !sel.Matches(labels.Set(s.cur.Labels)) {
			continue
		}
		v, has := s.value()
		if !has {
			continue
		}
		ok = true
		sum.Value += v.Value
		if v.Time.After(sum.Time) {
			sum.Time = v.Time
		}
		sum.Window = max(sum.Window, v.Window)
	}
	return sum, ok
}

// Store holds the last two samples of every series of every scraped pod.
// It is safe for concurrent use.
type Store struct {
	mu   sync.RWMutex
	pods map[types.NamespacedName]podEntry
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{pods: map[types.NamespacedName]podEntry{}}
}

// Update records what a scrape of the pod returned.
func (s *Store) Update(pod types.NamespacedName, samples []Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pods[pod] = merge(s.pods[pod], samples)
}

// Retain forgets every pod not in keep (deleted, no longer asking to be
// scraped, or not scraped this time).
func (s *Store) Retain(keep map[types.NamespacedName]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for pod := range s.pods {
		if !keep[pod] {
			delete(s.pods, pod)
		}
	}
}

// Value returns the pod's metric: the sum of its series whose labels match
// sel.
func (s *Store) Value(pod types.NamespacedName, metric string, sel labels.Selector) (Value, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.pods[pod]
	if !ok {
		return Value{}, false
	}
	return query(e, metric, sel)
}

// Metrics returns the names of the metrics some pod has, sorted.
func (s *Store) Metrics() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := map[string]bool{}
	for _, e := range s.pods {
		for k := range e {
			names[k.Metric] = true
		}
	}
	return slices.Sorted(maps.Keys(names))
}
