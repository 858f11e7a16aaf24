package wellknown

// Pod annotations by which a pod asks to be scraped for custom metrics, as
// Prometheus' conventional kubernetes_sd relabelling reads them.
const (
	// PrometheusScrapeAnnotation, value "true", asks that the pod's metrics
	// be scraped.
	PrometheusScrapeAnnotation = "prometheus.io/scrape"
	// PrometheusPortAnnotation is the port to scrape at the pod's IP
	// (default: the pod's first declared container port).
	PrometheusPortAnnotation = "prometheus.io/port"
	// PrometheusPathAnnotation is the HTTP path to scrape (default
	// DefaultPrometheusPath).
	PrometheusPathAnnotation = "prometheus.io/path"
	// PrometheusSchemeAnnotation is http (the default) or https.
	PrometheusSchemeAnnotation = "prometheus.io/scheme"
	// DefaultPrometheusPath is where metrics are scraped when the pod does
	// not say.
	DefaultPrometheusPath = "/metrics"
)
