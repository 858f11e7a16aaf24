package metrics

import "time"

// Defaults, as metrics-server's.
const (
	DefaultResolution    = 15 * time.Second
	DefaultScrapeTimeout = 10 * time.Second
)

// Options configure the metrics pipeline.
type Options struct {
	// Disable serves no metrics APIs and scrapes nothing.
	Disable bool
	// Resolution is how often nodes and pods are scraped (default
	// DefaultResolution).
	Resolution time.Duration
	// ScrapeTimeout bounds the scrape of one node or pod (default
	// DefaultScrapeTimeout, at most Resolution).
	ScrapeTimeout time.Duration
}

// WithDefaults returns o with its zero fields defaulted.
func (o Options) WithDefaults() Options {
	if o.Resolution <= 0 {
		o.Resolution = DefaultResolution
	}
	if o.ScrapeTimeout <= 0 {
		o.ScrapeTimeout = DefaultScrapeTimeout
	}
	o.ScrapeTimeout = min(o.ScrapeTimeout, o.Resolution)
	return o
}
