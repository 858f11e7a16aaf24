package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/metrics"
	"skiff.dev/skiff/internal/metrics/resource"
	"skiff.dev/skiff/internal/metrics/resourceapi"
	"skiff.dev/skiff/internal/registry/podsub"
)

// resourceMetrics is the usage the API serves as metrics.k8s.io: none
// without a store.
func resourceMetrics(store *resource.Store) resourceapi.Usage {
	if store == nil {
		return nil
	}
	return store
}

// startMetrics runs the scraping of the nodes' resource metrics into store
// until ctx ends; Shutdown waits for it. It reads the nodes through the
// API, with the loopback client, and reaches them with the API server's
// kubelet client certificate.
func (s *Server) startMetrics(ctx context.Context, loopback *rest.Config, files dataFiles, opts metrics.Options, store *resource.Store, log *slog.Logger) error {
	opts = opts.WithDefaults()
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return fmt.Errorf("metrics client: %w", err)
	}
	transport, err := podsub.KubeletTransport(files.kubeletCert, files.kubeletKey)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	scraper := &resource.Scraper{
		Nodes:   client.CoreV1().Nodes(),
		Client:  &http.Client{Transport: transport},
		Store:   store,
		Timeout: opts.ScrapeTimeout,
		Log:     log,
	}
	s.loops.Go(func() { scraper.Run(ctx, opts.Resolution) })
	return nil
}
