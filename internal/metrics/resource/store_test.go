package resource

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStore(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	web := ContainerKey{"prod", "web-1", "web"}
	side := ContainerKey{"prod", "web-1", "log"}
	other := ContainerKey{"prod", "db-0", "db"}
	batch := func(s int, cpu float64, containers ...ContainerKey) Batch {
		b := Batch{Node: &Point{Time: at(s), CPUSeconds: 100 * cpu, MemoryBytes: 1000}, Containers: map[ContainerKey]Point{}}
		for _, k := range containers {
			b.Containers[k] = Point{Time: at(s), CPUSeconds: cpu, MemoryBytes: uint64(len(k.Container))}
		}
		return b
	}
	type want struct {
		node *Usage
		pods map[PodKey]*PodUsage
	}
	podKey := web.PodKey()
	tests := []struct {
		name  string
		steps func(s *Store)
		want  want
	}{
		{
			name:  "one scrape: no window yet",
			steps: func(s *Store) { s.Update("n1", batch(0, 1, web, side)) },
			want:  want{pods: map[PodKey]*PodUsage{podKey: nil}},
		},
		{
			name: "two scrapes",
			steps: func(s *Store) {
				s.Update("n1", batch(0, 1, web, side))
				s.Update("n1", batch(10, 6, web, side))
			},
			want: want{
				node: &Usage{Time: at(10), Window: 10 * time.Second, NanoCores: 50e9, MemoryBytes: 1000},
				pods: map[PodKey]*PodUsage{podKey: {Time: at(10), Window: 10 * time.Second, Containers: []ContainerUsage{
					{Name: "log", Usage: Usage{Time: at(10), Window: 10 * time.Second, NanoCores: 5e8, MemoryBytes: 3}},
					{Name: "web", Usage: Usage{Time: at(10), Window: 10 * time.Second, NanoCores: 5e8, MemoryBytes: 3}},
				}}},
			},
		},
		{
			name: "the same reading again keeps the window",
			steps: func(s *Store) {
				s.Update("n1", batch(0, 1, web))
				s.Update("n1", batch(10, 6, web))
				s.Update("n1", batch(10, 6, web))
			},
			want: want{
				node: &Usage{Time: at(10), Window: 10 * time.Second, NanoCores: 50e9, MemoryBytes: 1000},
				pods: map[PodKey]*PodUsage{podKey: {Time: at(10), Window: 10 * time.Second, Containers: []ContainerUsage{
					{Name: "web", Usage: Usage{Time: at(10), Window: 10 * time.Second, NanoCores: 5e8, MemoryBytes: 3}},
				}}},
			},
		},
		{
			name: "a new container leaves its pod out until it has a window",
			steps: func(s *Store) {
				s.Update("n1", batch(0, 1, web))
				s.Update("n1", batch(10, 6, web, side))
			},
			want: want{
				node: &Usage{Time: at(10), Window: 10 * time.Second, NanoCores: 50e9, MemoryBytes: 1000},
				pods: map[PodKey]*PodUsage{podKey: nil},
			},
		},
		{
			name: "a pod no longer reported is gone",
			steps: func(s *Store) {
				s.Update("n1", batch(0, 1, web, other))
				s.Update("n1", batch(10, 2, other))
				s.Update("n1", batch(20, 3, other))
			},
			want: want{
				node: &Usage{Time: at(20), Window: 10 * time.Second, NanoCores: 10e9, MemoryBytes: 1000},
				pods: map[PodKey]*PodUsage{podKey: nil, other.PodKey(): {Time: at(20), Window: 10 * time.Second, Containers: []ContainerUsage{
					{Name: "db", Usage: Usage{Time: at(20), Window: 10 * time.Second, NanoCores: 1e8, MemoryBytes: 2}},
				}}},
			},
		},
		{
			name: "a node not retained is forgotten with its pods",
			steps: func(s *Store) {
				s.Update("n1", batch(0, 1, web))
				s.Update("n1", batch(10, 2, web))
				s.Update("n2", batch(0, 1, other))
				s.Update("n2", batch(10, 2, other))
				s.Retain(map[string]bool{"n2": true})
			},
			want: want{pods: map[PodKey]*PodUsage{podKey: nil}},
		},
		{
			name: "a node without its own reading still has pods",
			steps: func(s *Store) {
				s.Update("n1", Batch{Containers: map[ContainerKey]Point{web: {Time: at(0)}}})
				s.Update("n1", Batch{Containers: map[ContainerKey]Point{web: {Time: at(2), CPUSeconds: 1}}})
			},
			want: want{pods: map[PodKey]*PodUsage{podKey: {Time: at(2), Window: 2 * time.Second, Containers: []ContainerUsage{
				{Name: "web", Usage: Usage{Time: at(2), Window: 2 * time.Second, NanoCores: 5e8}},
			}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore()
			tt.steps(s)
			u, ok := s.NodeUsage("n1")
			if (tt.want.node != nil) != ok || (ok && u != *tt.want.node) {
				t.Errorf("NodeUsage(n1) = %+v, %v; want %+v", u, ok, tt.want.node)
			}
			for pod, want := range tt.want.pods {
				got, ok := s.PodUsage(pod)
				if (want != nil) != ok {
					t.Errorf("PodUsage(%v) ok = %v, want %v", pod, ok, want != nil)
					continue
				}
				if want != nil {
					if diff := cmp.Diff(*want, got); diff != "" {
						t.Errorf("PodUsage(%v) (-want +got):\n%s", pod, diff)
					}
				}
			}
		})
	}
}
