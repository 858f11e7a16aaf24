// Package metrics holds the options of skiff's metrics pipeline, which the
// API server runs as metrics-server and a Prometheus adapter would: the
// resource usage of nodes and pods scraped from the kubelets
// (internal/metrics/resource, served as metrics.k8s.io by
// internal/metrics/resourceapi) and the custom metrics of pods that ask to be
// scraped (internal/metrics/custom, served as custom.metrics.k8s.io by
// internal/metrics/customapi).
package metrics
