package expectations

import (
	"slices"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestSatisfied(t *testing.T) {
	const key = "ns/owner"
	tests := []struct {
		name string
		// steps run in order against fresh expectations; after is how long
		// passes after them.
		steps []func(e *Expectations)
		after time.Duration
		want  bool
	}{
		{name: "no record", want: true},
		{
			name:  "creations pending",
			steps: []func(*Expectations){func(e *Expectations) { e.ExpectCreations(key, 2) }},
		},
		{
			name: "some creations observed",
			steps: []func(*Expectations){
				func(e *Expectations) { e.ExpectCreations(key, 2) },
				func(e *Expectations) { e.CreationObserved(key) },
			},
		},
		{
			name: "all creations observed",
			steps: []func(*Expectations){
				func(e *Expectations) { e.ExpectCreations(key, 2) },
				func(e *Expectations) { e.CreationObserved(key) },
				func(e *Expectations) { e.CreationObserved(key) },
			},
			want: true,
		},
		{
			name: "more creations observed than expected do not carry over",
			steps: []func(*Expectations){
				func(e *Expectations) { e.ExpectCreations(key, 1) },
				func(e *Expectations) { e.CreationObserved(key) },
				func(e *Expectations) { e.CreationObserved(key) },
				func(e *Expectations) { e.Raise(key, 1, 0) },
			},
		},
		{
			name: "creations of another key observed",
			steps: []func(*Expectations){
				func(e *Expectations) { e.ExpectCreations(key, 1) },
				func(e *Expectations) { e.CreationObserved("ns/other") },
			},
		},
		{
			name: "named deletion pending; one seen twice",
			steps: []func(*Expectations){
				func(e *Expectations) { e.ExpectDeletions(key, []string{"ns/a", "ns/b"}) },
				func(e *Expectations) { e.DeletionObserved(key, "ns/a") },
				func(e *Expectations) { e.DeletionObserved(key, "ns/a") },
			},
		},
		{
			name: "named deletions all seen",
			steps: []func(*Expectations){
				func(e *Expectations) { e.ExpectDeletions(key, []string{"ns/a", "ns/b"}) },
				func(e *Expectations) { e.DeletionObserved(key, "ns/b") },
				func(e *Expectations) { e.DeletionObserved(key, "ns/a") },
			},
			want: true,
		},
		{
			name: "ExpectDeletions replaces pending creations",
			steps: []func(*Expectations){
				func(e *Expectations) { e.ExpectCreations(key, 3) },
				func(e *Expectations) { e.ExpectDeletions(key, []string{"ns/a"}) },
				func(e *Expectations) { e.DeletionObserved(key, "ns/a") },
			},
			want: true,
		},
		{
			name: "raised counts add up",
			steps: []func(*Expectations){
				func(e *Expectations) { e.Raise(key, 1, 1) },
				func(e *Expectations) { e.Raise(key, 1, 0) },
				func(e *Expectations) { e.CreationObserved(key) },
				func(e *Expectations) { e.DeletionObserved(key, "ns/x") },
			},
		},
		{
			name: "raised counts all observed",
			steps: []func(*Expectations){
				func(e *Expectations) { e.Raise(key, 1, 1) },
				func(e *Expectations) { e.Raise(key, 1, 0) },
				func(e *Expectations) { e.CreationObserved(key) },
				func(e *Expectations) { e.CreationObserved(key) },
				func(e *Expectations) { e.DeletionObserved(key, "ns/x") },
			},
			want: true,
		},
		{
			name:  "pending but expired",
			steps: []func(*Expectations){func(e *Expectations) { e.ExpectCreations(key, 1) }},
			after: TTL + time.Second,
			want:  true,
		},
		{
			name:  "pending, not expired yet",
			steps: []func(*Expectations){func(e *Expectations) { e.ExpectCreations(key, 1) }},
			after: TTL,
		},
		{
			name: "deleted",
			steps: []func(*Expectations){
				func(e *Expectations) { e.ExpectCreations(key, 1) },
				func(e *Expectations) { e.Delete(key) },
			},
			want: true,
		},
		{
			name:  "finalizer removals do not hold back",
			steps: []func(*Expectations){func(e *Expectations) { e.ExpectFinalizersRemoved(key, []string{"u1"}) }},
			want:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakePassiveClock(t0)
			e := New(clk)
			for _, step := range tt.steps {
				step(e)
			}
			clk.SetTime(t0.Add(tt.after))
			if got := e.Satisfied(key); got != tt.want {
				t.Errorf("Satisfied = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFinalizerRemovals(t *testing.T) {
	const key = "ns/job"
	tests := []struct {
		name  string
		steps []func(e *Expectations)
		want  []string
	}{
		{name: "none"},
		{
			name:  "expected",
			steps: []func(*Expectations){func(e *Expectations) { e.ExpectFinalizersRemoved(key, []string{"u1", "u2"}) }},
			want:  []string{"u1", "u2"},
		},
		{
			name: "one observed",
			steps: []func(*Expectations){
				func(e *Expectations) { e.ExpectFinalizersRemoved(key, []string{"u1", "u2"}) },
				func(e *Expectations) { e.FinalizerRemovalObserved(key, "u1") },
			},
			want: []string{"u2"},
		},
		{
			name: "kept across creations and deletions",
			steps: []func(*Expectations){
				func(e *Expectations) { e.ExpectFinalizersRemoved(key, []string{"u1"}) },
				func(e *Expectations) { e.ExpectCreations(key, 1) },
				func(e *Expectations) { e.ExpectDeletions(key, []string{"ns/a"}) },
				func(e *Expectations) { e.Raise(key, 1, 1) },
			},
			want: []string{"u1"},
		},
		{
			name: "deleted",
			steps: []func(*Expectations){
				func(e *Expectations) { e.ExpectFinalizersRemoved(key, []string{"u1"}) },
				func(e *Expectations) { e.Delete(key) },
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := New(clocktesting.NewFakePassiveClock(t0))
			for _, step := range tt.steps {
				step(e)
			}
			got := e.FinalizerRemovals(key)
			if l := sortedList(got); !slices.Equal(l, tt.want) {
				t.Errorf("FinalizerRemovals = %q, want %q", l, tt.want)
			}
			// The result is a copy.
			got.Insert("mutated")
			if e.FinalizerRemovals(key).Has("mutated") {
				t.Error("FinalizerRemovals returned the record's own set")
			}
		})
	}
}

func sortedList(s interface{ UnsortedList() []string }) []string {
	l := s.UnsortedList()
	slices.Sort(l)
	if len(l) == 0 {
		return nil
	}
	return l
}
