package resource

import (
	"math"
	"time"
)

// Point is one reading of a node or a container: its cumulative CPU time,
// its memory working set, and when they were taken.
type Point struct {
	// Time is when the CPU counter was read.
	Time time.Time
	// StartTime is when the container started (zero for a node or when
	// unknown): a different start time means a restart, whose counter
	// began again at zero.
	StartTime time.Time
	// CPUSeconds is the cumulative CPU time used.
	CPUSeconds float64
	// MemoryBytes is the memory working set.
	MemoryBytes uint64
}

// Usage is the usage over a window that ends at Time.
type Usage struct {
	Time        time.Time
	Window      time.Duration
	NanoCores   uint64
	MemoryBytes uint64
}

// Rate turns two points of the same node or container into its usage
// between them. ok is false when they do not make a window: the newer one is
// not later, the container restarted between them, or the counter went
// backwards.
func Rate(prev, cur Point) (u Usage, ok bool) {
	window := cur.Time.Sub(prev.Time)
	if window <= 0 || !prev.StartTime.Equal(cur.StartTime) || cur.CPUSeconds < prev.CPUSeconds {
		return Usage{}, false
	}
	nanoCores := (cur.CPUSeconds - prev.CPUSeconds) / window.Seconds() * 1e9
	return Usage{
		Time:        cur.Time,
		Window:      window,
		NanoCores:   uint64(math.Round(nanoCores)),
		MemoryBytes: cur.MemoryBytes,
	}, true
}
