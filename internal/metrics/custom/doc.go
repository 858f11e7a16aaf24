// Package custom collects the custom metrics of pods that ask for it with
// the prometheus.io annotations, as Prometheus with prometheus-adapter would:
// it scrapes their Prometheus text on an interval, keeps the last two
// samples of every series, and values a metric as the sum of its series
// that match a label selector. A counter (a family of type counter, or an
// untyped one named *_total) is served as its per-second rate under its name
// without _total plus _per_second (http_requests_total becomes
// http_requests_per_second); a gauge as is. Histograms and summaries are not
// served.
package custom
