package api

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/metrics"
	"skiff.dev/skiff/internal/metrics/custom"
	"skiff.dev/skiff/internal/metrics/customapi"
	"skiff.dev/skiff/internal/metrics/resource"
	"skiff.dev/skiff/internal/metrics/resourceapi"
	"skiff.dev/skiff/internal/metrics/scrape"
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

// customMetrics are the values the API serves as custom.metrics.k8s.io:
// none without a store.
func customMetrics(store *custom.Store) customapi.Values {
	if store == nil {
		return nil
	}
	return store
}

// startMetrics runs, until ctx ends, the scraping of the nodes' resource
// metrics into usage and of the pods that ask for it into values; Shutdown
// waits for them. Nodes and pods are read through the API, with the
// loopback client; nodes are reached with the API server's kubelet client
// certificate.
func (s *Server) startMetrics(ctx context.Context, loopback *rest.Config, files dataFiles, opts metrics.Options, usage *resource.Store, values *custom.Store, log *slog.Logger) error {
	opts = opts.WithDefaults()
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return fmt.Errorf("metrics client: %w", err)
	}
	transport, err := podsub.KubeletTransport(files.kubeletCert, files.kubeletKey, files.ca.CertFile)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	nodes := &resource.Scraper{
		Nodes:   client.CoreV1().Nodes(),
		Store:   usage,
		Options: scrape.Options{Client: &http.Client{Transport: transport}, Timeout: opts.ScrapeTimeout, Log: log},
	}
	pods := &custom.Scraper{
		Pods:  client.CoreV1().Pods(""),
		Store: values,
		Options: scrape.Options{
			// Pods serve their metrics on self-signed certificates if on
			// HTTPS at all, as Prometheus is commonly told to accept.
			Client: &http.Client{Transport: &http.Transport{
				TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // see above
				MaxIdleConnsPerHost: 2,
			}},
			Timeout: opts.ScrapeTimeout, Log: log,
		},
	}
	s.loops.Go(func() { nodes.Run(ctx, opts.Resolution) })
	s.loops.Go(func() { pods.Run(ctx, opts.Resolution) })
	return nil
}
