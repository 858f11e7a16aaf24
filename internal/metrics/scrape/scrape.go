// Package scrape is what the server's metrics pipelines share (resource
// metrics from the nodes, custom metrics from annotated pods): a loop on the
// metric resolution, a bounded fan-out over the targets of one round, and
// one GET of Prometheus text per target.
package scrape

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Every calls round now and then every interval until ctx ends.
func Every(ctx context.Context, interval time.Duration, round func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Each calls scrape for every item, at most limit at once, and returns the
// keys scrape reported as scraped.
func Each[I any, K comparable](items []I, limit int, scrape func(I) (K, bool)) map[K]bool {
	var (
		mu      sync.Mutex
		scraped = map[K]bool{}
		wg      sync.WaitGroup
		slots   = make(chan struct{}, limit)
	)
	for _, item := range items {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			if key, ok := scrape(item); ok {
				mu.Lock()
				scraped[key] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return scraped
}

// Options are how a scraper reaches and reads its targets; the resource
// and custom metrics scrapers embed them.
type Options struct {
	// Client reaches the targets.
	Client *http.Client
	// Timeout bounds the scrape of one target.
	Timeout time.Duration
	Log     *slog.Logger
	// Now defaults to time.Now; it stamps samples that carry no timestamp.
	Now func() time.Time
}

// Get GETs url as Prometheus text within o.Timeout and returns what parse
// makes of the body, read at o.Now; an answer other than 200 is an error
// naming its status and the start of its body.
func Get[T any](ctx context.Context, o Options, url string, parse func(io.Reader, time.Time) (T, error)) (T, error) {
	var zero T
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return zero, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := o.Client.Do(req)
	if err != nil {
		return zero, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return zero, fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	return parse(resp.Body, now())
}
