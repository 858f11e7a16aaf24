package stats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// The CRI labels the kubelet puts on every container.
const (
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelPodUID        = "io.kubernetes.pod.uid"
	labelContainerName = "io.kubernetes.container.name"
)

// Runtime is what the Collector needs of a container runtime: its
// containers (for their pods and start times) and their CRI stats
// (cumulative CPU and memory working set). The process and containerd
// runtimes and the fake one implement it.
type Runtime interface {
	ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error)
	ListContainerStats(ctx context.Context, filter *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error)
}

// Node reads the node's usage (NodeReader).
type Node interface {
	Read() (Usage, error)
}

// Defaults of Config.
const (
	DefaultMinWindow = time.Second
	DefaultInterval  = 10 * time.Second
)

// Config configures a Collector.
type Config struct {
	NodeName string
	// NodeStart is the node's start time (its boot).
	NodeStart time.Time
	Node      Node
	// Runtime may be nil: the summary then holds only the node.
	Runtime Runtime
	// MinWindow is the shortest window a CPU rate is computed over;
	// default DefaultMinWindow.
	MinWindow time.Duration
	// Interval between background samples (Run); default DefaultInterval.
	Interval time.Duration
	// Now defaults to time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Collector samples the node and its containers and builds the Summary.
type Collector struct {
	cfg   Config
	mu    sync.Mutex // serialises samples; guards rates
	rates *rates
}

// NewCollector returns a Collector; Run keeps its samples fresh.
func NewCollector(cfg Config) *Collector {
	if cfg.MinWindow <= 0 {
		cfg.MinWindow = DefaultMinWindow
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Collector{cfg: cfg, rates: newRates(cfg.MinWindow)}
}

// Run samples every Interval until ctx ends, so that a scrape finds a
// sample old enough for a CPU rate.
func (c *Collector) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := c.Summary(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Debug("stats sample failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Summary samples now and returns the node's and its pods' usage. An error
// from the runtime still returns the node's part with it.
func (c *Collector) Summary(ctx context.Context) (*statsapi.Summary, error) {
	now := c.cfg.Now()
	in := sampleInput{nodeName: c.cfg.NodeName, nodeStart: c.cfg.NodeStart, now: now}
	var errs []error
	if c.cfg.Node != nil {
		u, err := c.cfg.Node.Read()
		if err != nil {
			errs = append(errs, err)
		} else {
			in.node = &u
		}
	}
	if c.cfg.Runtime != nil {
		ctrs, err := c.cfg.Runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{
			State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING},
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("list containers: %w", err))
		}
		st, err := c.cfg.Runtime.ListContainerStats(ctx, &runtimeapi.ContainerStatsFilter{})
		if err != nil {
			errs = append(errs, fmt.Errorf("list container stats: %w", err))
		}
		in.containers, in.stats = ctrs, st
	}
	s := buildSummary(in)
	c.mu.Lock()
	applyRates(c.rates, s)
	c.mu.Unlock()
	if len(errs) > 0 {
		return s, fmt.Errorf("stats: %w", errors.Join(errs...))
	}
	return s, nil
}

// sampleInput is one round of readings.
type sampleInput struct {
	nodeName   string
	nodeStart  time.Time
	now        time.Time
	node       *Usage
	containers []*runtimeapi.Container
	stats      []*runtimeapi.ContainerStats
}

// buildSummary turns one round of readings into a Summary with cumulative
// CPU (no rates yet): the running containers that have stats, grouped by
// their pod, each pod the sum of its containers, sorted by namespace, name
// and container name.
func buildSummary(in sampleInput) *statsapi.Summary {
	s := &statsapi.Summary{Node: statsapi.NodeStats{NodeName: in.nodeName, StartTime: metav1.NewTime(in.nodeStart)}}
	if in.node != nil {
		t := metav1.NewTime(in.now)
		s.Node.CPU = &statsapi.CPUStats{Time: t, UsageCoreNanoSeconds: ptr(in.node.CPUNanos)}
		s.Node.Memory = &statsapi.MemoryStats{Time: t, UsageBytes: ptr(in.node.MemoryUsage), WorkingSetBytes: ptr(in.node.WorkingSetBytes)}
	}
	byID := make(map[string]*runtimeapi.ContainerStats, len(in.stats))
	for _, st := range in.stats {
		if id := st.GetAttributes().GetId(); id != "" {
			byID[id] = st
		}
	}
	pods := map[string]*statsapi.PodStats{}
	for _, c := range in.containers {
		st := byID[c.GetId()]
		uid := c.GetLabels()[labelPodUID]
		if st == nil || uid == "" {
			continue
		}
		p := pods[uid]
		if p == nil {
			p = &statsapi.PodStats{PodRef: statsapi.PodReference{
				Name: c.GetLabels()[labelPodName], Namespace: c.GetLabels()[labelPodNamespace], UID: uid,
			}}
			pods[uid] = p
		}
		name := c.GetLabels()[labelContainerName]
		if name == "" {
			name = c.GetMetadata().GetName()
		}
		start := time.Unix(0, c.GetCreatedAt())
		cs := statsapi.ContainerStats{Name: name, StartTime: metav1.NewTime(start)}
		if cpu := st.GetCpu(); cpu.GetUsageCoreNanoSeconds() != nil {
			cs.CPU = &statsapi.CPUStats{Time: metav1.NewTime(stamp(cpu.GetTimestamp(), in.now)), UsageCoreNanoSeconds: ptr(cpu.GetUsageCoreNanoSeconds().GetValue())}
		}
		if mem := st.GetMemory(); mem.GetWorkingSetBytes() != nil {
			cs.Memory = &statsapi.MemoryStats{Time: metav1.NewTime(stamp(mem.GetTimestamp(), in.now)), WorkingSetBytes: ptr(mem.GetWorkingSetBytes().GetValue())}
			if mem.GetUsageBytes() != nil {
				cs.Memory.UsageBytes = ptr(mem.GetUsageBytes().GetValue())
			}
		}
		if p.StartTime.IsZero() || start.Before(p.StartTime.Time) {
			p.StartTime = metav1.NewTime(start)
		}
		p.Containers = append(p.Containers, cs)
	}
	for _, p := range pods {
		sort.Slice(p.Containers, func(i, j int) bool { return p.Containers[i].Name < p.Containers[j].Name })
		p.CPU, p.Memory = sumContainers(p.Containers, in.now)
		s.Pods = append(s.Pods, *p)
	}
	sort.Slice(s.Pods, func(i, j int) bool {
		a, b := s.Pods[i].PodRef, s.Pods[j].PodRef
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.UID < b.UID
	})
	return s
}

// sumContainers adds up the containers' CPU and memory (nil when none of
// them reports it), stamped with the latest of their times.
func sumContainers(cs []statsapi.ContainerStats, now time.Time) (*statsapi.CPUStats, *statsapi.MemoryStats) {
	var cpu *statsapi.CPUStats
	var mem *statsapi.MemoryStats
	for _, c := range cs {
		if c.CPU != nil && c.CPU.UsageCoreNanoSeconds != nil {
			if cpu == nil {
				cpu = &statsapi.CPUStats{Time: c.CPU.Time, UsageCoreNanoSeconds: ptr(uint64(0))}
			}
			*cpu.UsageCoreNanoSeconds += *c.CPU.UsageCoreNanoSeconds
			if c.CPU.Time.After(cpu.Time.Time) {
				cpu.Time = c.CPU.Time
			}
		}
		if c.Memory != nil && c.Memory.WorkingSetBytes != nil {
			if mem == nil {
				mem = &statsapi.MemoryStats{Time: c.Memory.Time, WorkingSetBytes: ptr(uint64(0))}
			}
			*mem.WorkingSetBytes += *c.Memory.WorkingSetBytes
			if c.Memory.UsageBytes != nil {
				if mem.UsageBytes == nil {
					mem.UsageBytes = ptr(uint64(0))
				}
				*mem.UsageBytes += *c.Memory.UsageBytes
			}
			if c.Memory.Time.After(mem.Time.Time) {
				mem.Time = c.Memory.Time
			}
		}
	}
	return cpu, mem
}

// applyRates fills UsageNanoCores of the node, pods and containers from r,
// observing their counters.
func applyRates(r *rates, s *statsapi.Summary) {
	r.begin()
	defer r.end()
	observe := func(key string, cpu *statsapi.CPUStats) {
		if cpu == nil || cpu.UsageCoreNanoSeconds == nil {
			return
		}
		cpu.UsageNanoCores = r.observe(key, cpu.Time.Time, *cpu.UsageCoreNanoSeconds)
	}
	observe("node", s.Node.CPU)
	for i := range s.Pods {
		p := &s.Pods[i]
		observe("pod/"+p.PodRef.UID, p.CPU)
		for j := range p.Containers {
			observe("container/"+p.PodRef.UID+"/"+p.Containers[j].Name, p.Containers[j].CPU)
		}
	}
}

// stamp is a CRI timestamp (ns since the epoch), or now when it is unset.
func stamp(ns int64, now time.Time) time.Time {
	if ns <= 0 {
		return now
	}
	return time.Unix(0, ns)
}

func ptr[T any](v T) *T { return &v }
