// Package replicaset is the ReplicaSet controller: it keeps the number of
// active pods that a ReplicaSet controls equal to spec.replicas, creating
// pods from the template (in slow-start batches) and deleting the least
// valuable ones first, adopts orphan pods that match its selector and
// releases owned pods that no longer do, and reports replicas,
// fullyLabeledReplicas, readyReplicas, availableReplicas,
// terminatingReplicas and the ReplicaFailure condition in status — as
// kube-controller-manager's replicaset controller does.
//
// Expectations (how many creations and which deletions this controller is
// still waiting to see through its informer) keep it from acting twice on a
// stale cache.
package replicaset
