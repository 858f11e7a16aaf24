// Package podautoscaler is the HorizontalPodAutoscaler controller, as
// kube-controller-manager's horizontal-pod-autoscaler: every sync period it
// reads each HPA's target through the scale subresource, reads the metrics
// the HPA names through the metrics APIs that the API server serves
// (metrics.k8s.io, custom.metrics.k8s.io, external.metrics.k8s.io), computes
// the replica count Kubernetes would (tolerance, missing metrics, not yet
// ready pods, behavior policies and stabilization windows, min/max), writes
// it to the scale subresource, and reports currentMetrics, conditions and
// events on the HPA.
//
// The decisions are pure functions of their inputs (replicas.go: one
// metric's proposal; behavior.go: stabilization and rate limits;
// compute.go: all metrics of an HPA and its conditions); controller.go only
// reads the inputs and writes the results.
package podautoscaler
