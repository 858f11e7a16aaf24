// Package prober runs one attempt of a container's liveness, readiness or
// startup probe the way the kubelet does: an HTTP GET, a TCP connect, a
// command run in the container, or a gRPC health check.
//
// Timing (initialDelaySeconds, periodSeconds, success and failure
// thresholds) and the events that report results belong to the caller; this
// package only answers "did this attempt pass, and what did it say".
package prober
