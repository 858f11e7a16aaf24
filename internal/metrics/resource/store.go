package resource

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// series is the last two points of a node or a container.
type series struct {
	prev, cur Point
	hasPrev   bool
}

// usage is the usage between the two points, if they make a window.
func (s series) usage() (Usage, bool) {
	if !s.hasPrev {
		return Usage{}, false
	}
	return Rate(s.prev, s.cur)
}

// advance adds p to s (had: s holds a point). A point no newer than the
// last one is the same reading again, which keeps the series as it is; an
// older one starts the series over.
func advance(s series, had bool, p Point) series {
	switch {
	case !had:
		return series{cur: p}
	case p.Time.After(s.cur.Time):
		return series{prev: s.cur, cur: p, hasPrev: true}
	case p.Time.Equal(s.cur.Time):
		return s
	default:
		return series{cur: p}
	}
}

// nodeEntry is what the store holds of one node.
type nodeEntry struct {
	node       *series
	containers map[ContainerKey]series
}

// merge is the node's entry after a scrape returned b: each reading
// advances the series it belongs to, and containers the scrape no longer
// reports are dropped.
func merge(old nodeEntry, b Batch) nodeEntry {
	next := nodeEntry{containers: make(map[ContainerKey]series, len(b.Containers))}
	if b.Node != nil {
		var prev series
		if old.node != nil {
			prev = *old.node
		}
		s := advance(prev, old.node != nil, *b.Node)
		next.node = &s
	}
	for k, p := range b.Containers {
		prev, had := old.containers[k]
		next.containers[k] = advance(prev, had, p)
	}
	return next
}

// ContainerUsage is the usage of one container of a pod.
type ContainerUsage struct {
	Name string
	Usage
}

// PodUsage is the usage of a pod's containers, sorted by name. Time and
// Window are those of the container whose window ends first.
type PodUsage struct {
	Time       time.Time
	Window     time.Duration
	Containers []ContainerUsage
}

// Store holds the last two readings of every node and container that the
// last scrape of its node returned. It is safe for concurrent use.
type Store struct {
	mu    sync.RWMutex
	nodes map[string]nodeEntry
	// pods indexes the node each pod's containers were reported by.
	pods map[PodKey]string
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{nodes: map[string]nodeEntry{}, pods: map[PodKey]string{}}
}

// Update records what a scrape of node returned.
func (s *Store) Update(node string, b Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.nodes[node]
	for k := range old.containers {
		if s.pods[k.PodKey()] == node {
			delete(s.pods, k.PodKey())
		}
	}
	next := merge(old, b)
	s.nodes[node] = next
	for k := range next.containers {
		s.pods[k.PodKey()] = node
	}
}

// Retain forgets every node not in keep (deleted, or not scraped this
// time) and its containers.
func (s *Store) Retain(keep map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for node, e := range s.nodes {
		if keep[node] {
			continue
		}
		for k := range e.containers {
			if s.pods[k.PodKey()] == node {
				delete(s.pods, k.PodKey())
			}
		}
		delete(s.nodes, node)
	}
}

// NodeUsage returns the usage of the node, if two of its scrapes made a
// window.
func (s *Store) NodeUsage(node string) (Usage, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.nodes[node]
	if !ok || e.node == nil {
		return Usage{}, false
	}
	return e.node.usage()
}

// PodUsage returns the usage of every container of the pod; ok is false
// unless each container it reports has a window (as metrics-server, a pod
// with incomplete metrics has none).
func (s *Store) PodUsage(pod PodKey) (PodUsage, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	node, ok := s.pods[pod]
	if !ok {
		return PodUsage{}, false
	}
	var out PodUsage
	for k, c := range s.nodes[node].containers {
		if k.PodKey() != pod {
			continue
		}
		u, ok := c.usage()
		if !ok {
			return PodUsage{}, false
		}
		out.Containers = append(out.Containers, ContainerUsage{Name: k.Container, Usage: u})
		if out.Time.IsZero() || u.Time.Before(out.Time) {
			out.Time, out.Window = u.Time, u.Window
		}
	}
	if len(out.Containers) == 0 {
		return PodUsage{}, false
	}
	slices.SortFunc(out.Containers, func(a, b ContainerUsage) int { return strings.Compare(a.Name, b.Name) })
	return out, true
}
