package proxy

import (
	"sync"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// syncMetrics are kube-proxy's sync metrics of the same names and buckets,
// in the process's component-base registry (the agent's /metrics).
type syncMetrics struct {
	// duration times every sync; full and partial the syncs of every
	// Service and of the changed ones.
	duration, full, partial *metrics.Histogram
	// lastSync is when the rules were last synced successfully.
	lastSync *metrics.Gauge
}

func newSyncMetrics() *syncMetrics {
	histogram := func(name, help string) *metrics.Histogram {
		return metrics.NewHistogram(&metrics.HistogramOpts{
			Subsystem:      "kubeproxy",
			Name:           name,
			Help:           help,
			Buckets:        metrics.ExponentialBuckets(0.001, 2, 15),
			StabilityLevel: metrics.ALPHA,
		})
	}
	return &syncMetrics{
		duration: histogram("sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds"),
		full:     histogram("sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs"),
		partial:  histogram("sync_partial_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for partial resyncs"),
		lastSync: metrics.NewGauge(&metrics.GaugeOpts{
			Subsystem:      "kubeproxy",
			Name:           "sync_proxy_rules_last_timestamp_seconds",
			Help:           "The last time proxy rules were successfully synced",
			StabilityLevel: metrics.ALPHA,
		}),
	}
}

var (
	processMetricsOnce sync.Once
	processMetricsSet  *syncMetrics
)

// processMetrics is the one set of proxy metrics of the process, registered
// in component-base's legacy registry on first use.
func processMetrics() *syncMetrics {
	processMetricsOnce.Do(func() {
		processMetricsSet = newSyncMetrics()
		legacyregistry.MustRegister(processMetricsSet.duration, processMetricsSet.full,
			processMetricsSet.partial, processMetricsSet.lastSync)
	})
	return processMetricsSet
}

// synced records a sync (full or of the changed Services) that began at
// start and ended at end, successfully unless failed.
func (m *syncMetrics) synced(start, end time.Time, full, failed bool) {
	took := end.Sub(start).Seconds()
	m.duration.Observe(took)
	if full {
		m.full.Observe(took)
	} else {
		m.partial.Observe(took)
	}
	if !failed {
		m.lastSync.Set(float64(end.UnixNano()) / 1e9)
	}
}
