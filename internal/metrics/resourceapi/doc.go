// Package resourceapi serves the resource metrics API, metrics.k8s.io
// (NodeMetrics and PodMetrics, read-only, as metrics-server does), from the
// usage internal/metrics/resource keeps and the nodes and pods the API
// server's informers hold.
package resourceapi
