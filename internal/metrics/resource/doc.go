// Package resource computes the resource usage of nodes, pods and containers
// as metrics-server does: it scrapes every node's kubelet /metrics/resource
// on an interval, keeps the last two samples of each node and container, and
// turns their cumulative CPU seconds into nanocores over the window between
// them; memory is the working set of the newer sample. The metrics.k8s.io
// API (internal/metrics/resourceapi) serves what the Store holds.
package resource
