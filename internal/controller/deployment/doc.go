// Package deployment is the Deployment controller: it rolls a Deployment's
// pod template out through ReplicaSets, one per template (named
// <deployment>-<pod-template-hash>), with the RollingUpdate (maxSurge,
// maxUnavailable) or Recreate strategy; scales them proportionally when
// spec.replicas changes mid-rollout; keeps the revision,
// revision-history, desired-replicas and max-replicas annotations and the
// Deployment's own annotations on the ReplicaSets (so that kubectl rollout
// history and undo work); honours paused, minReadySeconds,
// progressDeadlineSeconds and revisionHistoryLimit; and reports status
// and the Progressing, Available and ReplicaFailure conditions with
// Kubernetes' reasons and messages.
//
// It never touches pods except to read them: the ReplicaSet controller
// creates and deletes them.
package deployment
