package kubelet

import (
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// kubeletMetrics are the kubelet's metrics of the same names, labels and
// buckets as Kubernetes', in the process's component-base registry (served
// on the kubelet port's /metrics). A nil *kubeletMetrics records nothing.
type kubeletMetrics struct {
	// podStart is the time from the kubelet first seeing a pod to the pod
	// reported Running.
	podStart *metrics.Histogram
	// runningPods counts pods with a ready sandbox; runningContainers
	// the containers by state, as the last relist found them.
	runningPods       *metrics.Gauge
	runningContainers *metrics.GaugeVec
	// probes counts probe attempts by type and result, per container.
	probes *metrics.CounterVec
}

// podStartBuckets are the kubelet's pod startup duration buckets (s).
var podStartBuckets = []float64{0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600}

func newKubeletMetrics() *kubeletMetrics {
	return &kubeletMetrics{
		podStart: metrics.NewHistogram(&metrics.HistogramOpts{
			Subsystem:      "kubelet",
			Name:           "pod_start_duration_seconds",
			Help:           "Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run",
			Buckets:        podStartBuckets,
			StabilityLevel: metrics.ALPHA,
		}),
		runningPods: metrics.NewGauge(&metrics.GaugeOpts{
			Subsystem:      "kubelet",
			Name:           "running_pods",
			Help:           "Number of pods that have a running pod sandbox",
			StabilityLevel: metrics.ALPHA,
		}),
		runningContainers: metrics.NewGaugeVec(&metrics.GaugeOpts{
			Subsystem:      "kubelet",
			Name:           "running_containers",
			Help:           "Number of containers currently running",
			StabilityLevel: metrics.ALPHA,
		}, []string{"container_state"}),
		probes: metrics.NewCounterVec(&metrics.CounterOpts{
			Subsystem:      "prober",
			Name:           "probe_total",
			Help:           "Cumulative number of a liveness, readiness or startup probe for a container by result.",
			StabilityLevel: metrics.BETA,
		}, []string{"probe_type", "result", "container", "pod", "namespace", "pod_uid"}),
	}
}

var (
	processMetricsOnce sync.Once
	processMetricsSet  *kubeletMetrics
)

// processMetrics is the one set of kubelet metrics of the process,
// registered in component-base's legacy registry on first use.
func processMetrics() *kubeletMetrics {
	processMetricsOnce.Do(func() {
		m := newKubeletMetrics()
		legacyregistry.MustRegister(m.podStart, m.runningPods, m.runningContainers, m.probes)
		processMetricsSet = m
	})
	return processMetricsSet
}

// probeResultLabel is the "result" label of a probe attempt.
func probeResultLabel(r probeResult) string {
	switch r {
	case probeSuccess:
		return "successful"
	case probeFailure:
		return "failed"
	default:
		return "unknown"
	}
}

// probed counts one attempt of a probe of pod's container.
func (m *kubeletMetrics) probed(kind probeKind, r probeResult, pod *corev1.Pod, container string) {
	if m == nil {
		return
	}
	m.probes.WithLabelValues(kind.String(), probeResultLabel(r), container, pod.Name, pod.Namespace, string(pod.UID)).Inc()
}

// forgetProbes drops the series of a probe that no longer runs.
func (m *kubeletMetrics) forgetProbes(kind probeKind, pod *corev1.Pod, container string) {
	if m == nil {
		return
	}
	for _, r := range []probeResult{probeSuccess, probeFailure, probeUnknown} {
		m.probes.DeleteLabelValues(kind.String(), probeResultLabel(r), container, pod.Name, pod.Namespace, string(pod.UID))
	}
}

// containerStates are the "container_state" label values, by CRI state.
var containerStates = map[runtimeapi.ContainerState]string{
	runtimeapi.ContainerState_CONTAINER_CREATED: "created",
	runtimeapi.ContainerState_CONTAINER_RUNNING: "running",
	runtimeapi.ContainerState_CONTAINER_EXITED:  "exited",
	runtimeapi.ContainerState_CONTAINER_UNKNOWN: "unknown",
}

// runningCounts is how many pods of a relist have a ready sandbox, and
// how many of their containers are in each state (every state named, zero
// included).
func runningCounts(r *relisted) (pods int, containers map[string]int) {
	for _, sbs := range r.sandboxes {
		for _, sb := range sbs {
			if sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
				pods++
				break
			}
		}
	}
	containers = map[string]int{}
	for _, state := range containerStates {
		containers[state] = 0
	}
	for _, cs := range r.containers {
		for _, c := range cs {
			state, ok := containerStates[c.State]
			if !ok {
				state = strings.ToLower(strings.TrimPrefix(c.State.String(), "CONTAINER_"))
			}
			containers[state]++
		}
	}
	return pods, containers
}

// setRunning reports what a relist found.
func (m *kubeletMetrics) setRunning(pods int, containers map[string]int) {
	if m == nil {
		return
	}
	m.runningPods.Set(float64(pods))
	for state, n := range containers {
		m.runningContainers.WithLabelValues(state).Set(float64(n))
	}
}

// podStarted records a pod reported Running took after the kubelet first
// saw it.
func (m *kubeletMetrics) podStarted(took time.Duration) {
	if m == nil {
		return
	}
	m.podStart.Observe(took.Seconds())
}

// podStarts remembers when the kubelet first saw each pod, until the pod
// is first reported Running (kubelet_pod_start_duration_seconds).
type podStarts struct {
	mu        sync.Mutex
	firstSeen map[types.UID]time.Time
	reported  map[types.UID]bool
}

func newPodStarts() *podStarts {
	return &podStarts{firstSeen: map[types.UID]time.Time{}, reported: map[types.UID]bool{}}
}

// seen notes that the kubelet saw the pod at now, unless it saw it before.
func (s *podStarts) seen(uid types.UID, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.firstSeen[uid]; !ok {
		s.firstSeen[uid] = now
	}
}

// running is how long after it was first seen the pod was reported
// Running at now; false when that was reported before or the pod was not
// seen.
func (s *podStarts) running(uid types.UID, now time.Time) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first, ok := s.firstSeen[uid]
	if !ok || s.reported[uid] {
		return 0, false
	}
	s.reported[uid] = true
	return now.Sub(first), true
}

// forget drops a pod that is gone.
func (s *podStarts) forget(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.firstSeen, uid)
	delete(s.reported, uid)
}
