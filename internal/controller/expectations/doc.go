// Package expectations records, per controller key, the writes a
// controller issued and its informer has not shown yet — pod creations,
// pod deletions, finalizer removals — so that a sync acting on a cache that
// does not yet show the controller's own earlier actions does not create,
// delete or count twice (Kubernetes' ControllerExpectations and
// UIDTrackingControllerExpectations). ReplicaSet and Job use it.
package expectations
