// Package job is the Job controller: it runs a Job's pods (NonIndexed or
// Indexed, up to spec.parallelism, until spec.completions succeed), replaces
// failed pods after an exponential back-off, enforces backoffLimit,
// activeDeadlineSeconds, suspend, podFailurePolicy and successPolicy, and
// keeps the Job's status: counters, completedIndexes, conditions
// (SuccessCriteriaMet/Complete, FailureTarget/Failed, Suspended).
//
// Finished pods are counted exactly once through the
// batch.kubernetes.io/job-tracking finalizer and
// .status.uncountedTerminatedPods, as in Kubernetes: a pod keeps the
// finalizer until its end is recorded in the status.
//
// Not implemented: backoffLimitPerIndex / maxFailedIndexes (stored, no
// effect: failures count against backoffLimit) and the FailIndex action
// of podFailurePolicy (counted like Count).
package job
