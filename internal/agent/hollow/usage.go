package hollow

import (
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// usageRate is what one simulated container uses: CPU in nanocores and a
// memory working set in bytes.
type usageRate struct {
	nanocores uint64
	memory    uint64
}

// simulatedUsage decides what each running container of pod uses: the
// pod's skiff.dev/simulate-cpu and skiff.dev/simulate-memory annotations
// (or the defaults when absent or not a quantity), split evenly between
// the running containers.
func simulatedUsage(pod *corev1.Pod, running []string, defCPU, defMemory resource.Quantity) map[string]usageRate {
	if len(running) == 0 {
		return nil
	}
	cpu := annotationQuantity(pod, CPUAnnotation, defCPU)
	mem := annotationQuantity(pod, MemoryAnnotation, defMemory)
	n := uint64(len(running))
	nanocores := uint64(max(cpu.ScaledValue(resource.Nano), 0))
	bytes := uint64(max(mem.Value(), 0))
	out := make(map[string]usageRate, len(running))
	for _, name := range running {
		out[name] = usageRate{nanocores: nanocores / n, memory: bytes / n}
	}
	return out
}

func annotationQuantity(pod *corev1.Pod, key string, def resource.Quantity) resource.Quantity {
	if v, ok := pod.Annotations[key]; ok {
		if q, err := resource.ParseQuantity(strings.TrimSpace(v)); err == nil {
			return q
		}
	}
	return def
}

// cpuCounter is a cumulative CPU time growing at a rate that may change.
type cpuCounter struct {
	at        time.Time
	nanos     float64
	nanocores uint64
}

// advance adds the time used since the last advance at the current rate.
func (c *cpuCounter) advance(now time.Time) {
	if now.After(c.at) {
		c.nanos += float64(c.nanocores) * now.Sub(c.at).Seconds()
		c.at = now
	}
}

// setRate changes the rate from now on.
func (c *cpuCounter) setRate(now time.Time, nanocores uint64) {
	c.advance(now)
	c.nanocores = nanocores
}

// podUsage is the simulated usage of one pod's running containers. The pod
// workers set it; the stats server reads it.
type podUsage struct {
	mu   sync.Mutex
	ctrs map[string]*ctrUsage
}

type ctrUsage struct {
	start  time.Time
	cpu    cpuCounter
	memory uint64
}

// update sets the rates of the running containers (by name, with their
// start times); a container not in rates stopped, one that started again
// starts its counter over.
func (u *podUsage) update(now time.Time, rates map[string]usageRate, starts map[string]time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ctrs == nil {
		u.ctrs = map[string]*ctrUsage{}
	}
	for name := range u.ctrs {
		if _, ok := rates[name]; !ok {
			delete(u.ctrs, name)
		}
	}
	for name, r := range rates {
		c := u.ctrs[name]
		if c == nil || !c.start.Equal(starts[name]) {
			c = &ctrUsage{start: starts[name], cpu: cpuCounter{at: now}}
			u.ctrs[name] = c
		}
		c.cpu.setRate(now, r.nanocores)
		c.memory = r.memory
	}
}

// stats returns the containers' stats at now, sorted by name, and their
// sums.
func (u *podUsage) stats(now time.Time) (ctrs []statsapi.ContainerStats, cpuNanos, nanocores, memory uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	t := metav1.NewTime(now)
	for name, c := range u.ctrs {
		c.cpu.advance(now)
		used, rate, mem := uint64(c.cpu.nanos), c.cpu.nanocores, c.memory
		ctrs = append(ctrs, statsapi.ContainerStats{
			Name:      name,
			StartTime: metav1.NewTime(c.start),
			CPU:       &statsapi.CPUStats{Time: t, UsageCoreNanoSeconds: &used, UsageNanoCores: &rate},
			Memory:    &statsapi.MemoryStats{Time: t, WorkingSetBytes: &mem, UsageBytes: &mem},
		})
		cpuNanos += used
		nanocores += rate
		memory += mem
	}
	slices.SortFunc(ctrs, func(a, b statsapi.ContainerStats) int { return strings.Compare(a.Name, b.Name) })
	return ctrs, cpuNanos, nanocores, memory
}
