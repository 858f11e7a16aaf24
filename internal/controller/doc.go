// Package controller holds, one sub-package per controller, the control loops
// that `skiff server` runs (replicaset, deployment, garbagecollector,
// namespace, job, cronjob, nodelifecycle, endpoints, endpointslice,
// endpointslicemirroring, servicelb, ...). They talk to the API server
// only through client-go, exactly as kube-controller-manager does.
//
// Every controller package follows one shape, so that the controller
// manager (internal/controllermanager) can start them all the same way:
//
//	// New wires the controller's informer event handlers. It does not start
//	// anything; the manager starts the shared informer factory afterwards.
//	func New(client kubernetes.Interface, factory informers.SharedInformerFactory,
//		recorder record.EventRecorder, opts Options) *Controller
//
//	// Run waits for the informers' caches, then runs Options.Workers
//	// goroutines over a rate-limited workqueue until ctx is done.
//	func (c *Controller) Run(ctx context.Context)
//
// The workqueue plumbing they share (the workers' loop, Run's wait for the
// caches and shutdown, the one way a failed sync is logged, terminal errors
// and conflicts, the event handlers' Enqueue and tombstone unwrapping) is
// package queue; the expectations of ReplicaSet and Job are package
// expectations; the pod questions (active, terminal, ready) are package
// podutil.
//
// Options is a per-controller struct of tunables (durations, limits, the
// number of workers), with zero values meaning Kubernetes' defaults. Events are core/v1 Events written through
// k8s.io/client-go/tools/record (kubectl describe reads core/v1 Events), with
// Kubernetes' reasons and messages. Controllers are level-triggered: a
// sync reads the current state from listers and acts on it; it is
// idempotent and requeues with back-off on error.
package controller
