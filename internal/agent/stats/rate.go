package stats

import "time"

// cpuSample is the stored sample of one cumulative CPU counter and the rate
// last computed against it.
type cpuSample struct {
	at    time.Time
	nanos uint64
	rate  *uint64 // nanocores; nil until one was computed
}

// nextSample decides what to keep and report for a counter read as nanos
// at at, given the stored sample prev (have: there is one). The rate is the
// average over the time since prev, which is replaced only once it is at
// least minWindow old; until then the previous rate is reported again. A
// counter that went back (a restarted container) starts over with no rate.
func nextSample(prev cpuSample, have bool, at time.Time, nanos uint64, minWindow time.Duration) (cpuSample, *uint64) {
	if !have || nanos < prev.nanos || !at.After(prev.at) {
		return cpuSample{at: at, nanos: nanos}, nil
	}
	window := at.Sub(prev.at)
	if window < minWindow {
		return prev, prev.rate
	}
	r := uint64(float64(nanos-prev.nanos) / window.Seconds())
	return cpuSample{at: at, nanos: nanos, rate: &r}, &r
}

// rates keeps the samples of many counters by key.
type rates struct {
	minWindow time.Duration
	samples   map[string]cpuSample
	seen      map[string]bool
}

func newRates(minWindow time.Duration) *rates {
	return &rates{minWindow: minWindow, samples: map[string]cpuSample{}}
}

// begin starts a round of observations; end forgets the counters not
// observed in it.
func (r *rates) begin() { r.seen = map[string]bool{} }

func (r *rates) observe(key string, at time.Time, nanos uint64) *uint64 {
	prev, have := r.samples[key]
	next, rate := nextSample(prev, have, at, nanos, r.minWindow)
	r.samples[key] = next
	r.seen[key] = true
	return rate
}

func (r *rates) end() {
	for k := range r.samples {
		if !r.seen[k] {
			delete(r.samples, k)
		}
	}
}
