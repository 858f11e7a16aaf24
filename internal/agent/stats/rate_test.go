package stats

import (
	"testing"
	"time"
)

func TestNextSample(t *testing.T) {
	t0 := time.Unix(1000, 0)
	rate := func(v uint64) *uint64 { return &v }
	tests := []struct {
		name     string
		prev     cpuSample
		have     bool
		at       time.Duration // after t0
		nanos    uint64
		want     *uint64
		wantKept bool // prev stays stored
	}{
		{name: "first sample has no rate", at: 0, nanos: 5},
		{name: "half a core over 10s", prev: cpuSample{at: t0, nanos: 1e9}, have: true, at: 10 * time.Second, nanos: 6e9, want: rate(5e8)},
		{name: "two cores over 2s", prev: cpuSample{at: t0, nanos: 0}, have: true, at: 2 * time.Second, nanos: 4e9, want: rate(2e9)},
		{name: "idle", prev: cpuSample{at: t0, nanos: 7}, have: true, at: 5 * time.Second, nanos: 7, want: rate(0)},
		{name: "too short a window repeats the last rate", prev: cpuSample{at: t0, nanos: 1, rate: rate(42)}, have: true, at: 500 * time.Millisecond, nanos: 9, want: rate(42), wantKept: true},
		{name: "too short a window without a rate yet", prev: cpuSample{at: t0, nanos: 1}, have: true, at: 500 * time.Millisecond, nanos: 9, wantKept: true},
		{name: "counter reset starts over", prev: cpuSample{at: t0, nanos: 9e9, rate: rate(1)}, have: true, at: 5 * time.Second, nanos: 1e9},
		{name: "time going back starts over", prev: cpuSample{at: t0, nanos: 1}, have: true, at: -time.Second, nanos: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := t0.Add(tt.at)
			next, got := nextSample(tt.prev, tt.have, at, tt.nanos, time.Second)
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("rate = %v, want %v", deref(got), deref(tt.want))
			}
			if tt.wantKept {
				if next.at != tt.prev.at || next.nanos != tt.prev.nanos {
					t.Errorf("stored %+v, want the previous sample kept", next)
				}
			} else if !next.at.Equal(at) || next.nanos != tt.nanos {
				t.Errorf("stored %+v, want the new sample", next)
			}
		})
	}
}

func deref(p *uint64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestRatesForgetUnseen(t *testing.T) {
	r := newRates(time.Second)
	t0 := time.Unix(0, 0)
	r.begin()
	r.observe("a", t0, 0)
	r.observe("b", t0, 0)
	r.end()
	r.begin()
	if got := r.observe("a", t0.Add(2*time.Second), 2e9); got == nil || *got != 1e9 {
		t.Errorf("a: rate %v, want 1e9", deref(got))
	}
	r.end()
	if _, ok := r.samples["b"]; ok {
		t.Error("b was not observed in the last round but is still kept")
	}
}
