package resource

import (
	"testing"
	"time"
)

func TestRate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	start := t0.Add(-time.Hour)
	tests := []struct {
		name      string
		prev, cur Point
		want      Usage
		ok        bool
	}{
		{
			name: "half a core over 15s",
			prev: Point{Time: t0, CPUSeconds: 10, MemoryBytes: 1},
			cur:  Point{Time: t0.Add(15 * time.Second), CPUSeconds: 17.5, MemoryBytes: 2 << 20},
			want: Usage{Time: t0.Add(15 * time.Second), Window: 15 * time.Second, NanoCores: 500_000_000, MemoryBytes: 2 << 20},
			ok:   true,
		},
		{
			name: "idle",
			prev: Point{Time: t0, StartTime: start, CPUSeconds: 3},
			cur:  Point{Time: t0.Add(time.Second), StartTime: start, CPUSeconds: 3, MemoryBytes: 4096},
			want: Usage{Time: t0.Add(time.Second), Window: time.Second, MemoryBytes: 4096},
			ok:   true,
		},
		{
			name: "fractional nanocores round",
			prev: Point{Time: t0},
			cur:  Point{Time: t0.Add(3 * time.Second), CPUSeconds: 1e-9},
			want: Usage{Time: t0.Add(3 * time.Second), Window: 3 * time.Second, NanoCores: 0},
			ok:   true,
		},
		{name: "same time", prev: Point{Time: t0, CPUSeconds: 1}, cur: Point{Time: t0, CPUSeconds: 2}},
		{name: "older sample", prev: Point{Time: t0, CPUSeconds: 1}, cur: Point{Time: t0.Add(-time.Second), CPUSeconds: 2}},
		{name: "counter reset", prev: Point{Time: t0, CPUSeconds: 5}, cur: Point{Time: t0.Add(time.Second), CPUSeconds: 1}},
		{
			name: "container restarted",
			prev: Point{Time: t0, StartTime: start, CPUSeconds: 1},
			cur:  Point{Time: t0.Add(time.Second), StartTime: start.Add(time.Minute), CPUSeconds: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Rate(tt.prev, tt.cur)
			if ok != tt.ok || got != tt.want {
				t.Errorf("Rate = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
