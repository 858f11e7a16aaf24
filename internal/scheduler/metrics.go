package scheduler

import (
	"strconv"
	"sync"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// Results of a scheduling attempt, the "result" label as kube-scheduler
// writes it.
const (
	resultScheduled     = "scheduled"
	resultUnschedulable = "unschedulable"
	resultError         = "error"
)

// schedulerMetrics are kube-scheduler's metrics of the same names, labels
// and buckets, in the process's component-base registry (the API server's
// /metrics in `skiff server`).
type schedulerMetrics struct {
	// attempts and attemptDuration count and time each attempt (the
	// algorithm and the binding) by result and profile (the scheduler
	// name).
	attempts        *metrics.CounterVec
	attemptDuration *metrics.HistogramVec
	// algorithmDuration times the filter and score plugins alone.
	algorithmDuration *metrics.Histogram
	// podAttempts is how many attempts a scheduled pod took; sliDuration
	// the time from its entering the queue to its binding, by attempts.
	podAttempts *metrics.Histogram
	sliDuration *metrics.HistogramVec
	// pending is the pods waiting in each part of the queue ("active",
	// "backoff", "unschedulable").
	pending *metrics.GaugeVec
}

func newSchedulerMetrics() *schedulerMetrics {
	return &schedulerMetrics{
		attempts: metrics.NewCounterVec(&metrics.CounterOpts{
			Subsystem:      "scheduler",
			Name:           "schedule_attempts_total",
			Help:           "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.",
			StabilityLevel: metrics.STABLE,
		}, []string{"result", "profile"}),
		attemptDuration: metrics.NewHistogramVec(&metrics.HistogramOpts{
			Subsystem:      "scheduler",
			Name:           "scheduling_attempt_duration_seconds",
			Help:           "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
			Buckets:        metrics.ExponentialBuckets(0.001, 2, 15),
			StabilityLevel: metrics.STABLE,
		}, []string{"result", "profile"}),
		algorithmDuration: metrics.NewHistogram(&metrics.HistogramOpts{
			Subsystem:      "scheduler",
			Name:           "scheduling_algorithm_duration_seconds",
			Help:           "Scheduling algorithm latency in seconds",
			Buckets:        metrics.ExponentialBuckets(0.001, 2, 15),
			StabilityLevel: metrics.BETA,
		}),
		podAttempts: metrics.NewHistogram(&metrics.HistogramOpts{
			Subsystem:      "scheduler",
			Name:           "pod_scheduling_attempts",
			Help:           "Number of attempts to successfully schedule a pod.",
			Buckets:        metrics.ExponentialBuckets(1, 2, 5),
			StabilityLevel: metrics.STABLE,
		}),
		sliDuration: metrics.NewHistogramVec(&metrics.HistogramOpts{
			Subsystem:      "scheduler",
			Name:           "pod_scheduling_sli_duration_seconds",
			Help:           "E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue and might involve multiple scheduling attempts.",
			Buckets:        metrics.ExponentialBuckets(0.01, 2, 20),
			StabilityLevel: metrics.BETA,
		}, []string{"attempts"}),
		pending: metrics.NewGaugeVec(&metrics.GaugeOpts{
			Subsystem:      "scheduler",
			Name:           "pending_pods",
			Help:           "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods.",
			StabilityLevel: metrics.STABLE,
		}, []string{"queue"}),
	}
}

func (m *schedulerMetrics) registerables() []metrics.Registerable {
	return []metrics.Registerable{m.attempts, m.attemptDuration, m.algorithmDuration, m.podAttempts, m.sliDuration, m.pending}
}

var (
	processMetricsOnce sync.Once
	processMetricsSet  *schedulerMetrics
)

// processMetrics is the one set of scheduler metrics of the process,
// registered in component-base's legacy registry on first use: every
// scheduler of the process reports there, told apart by "profile".
func processMetrics() *schedulerMetrics {
	processMetricsOnce.Do(func() {
		processMetricsSet = newSchedulerMetrics()
		legacyregistry.MustRegister(processMetricsSet.registerables()...)
	})
	return processMetricsSet
}

// attempt records one scheduling attempt of profile that ended with result
// after took.
func (m *schedulerMetrics) attempt(profile, result string, took time.Duration) {
	m.attempts.WithLabelValues(result, profile).Inc()
	m.attemptDuration.WithLabelValues(result, profile).Observe(took.Seconds())
}

// scheduled records a pod bound after attempts attempts, inQueue after it
// first entered the queue.
func (m *schedulerMetrics) scheduled(attempts int, inQueue time.Duration) {
	m.podAttempts.Observe(float64(attempts))
	m.sliDuration.WithLabelValues(strconv.Itoa(attempts)).Observe(inQueue.Seconds())
}

// setPending reports how many pods wait in each part of the queue.
func (m *schedulerMetrics) setPending(active, backoff, unschedulable int) {
	m.pending.WithLabelValues("active").Set(float64(active))
	m.pending.WithLabelValues("backoff").Set(float64(backoff))
	m.pending.WithLabelValues("unschedulable").Set(float64(unschedulable))
}
