// Package scheduler places pending pods on nodes, as kube-scheduler does for
// pods whose spec.schedulerName is "default-scheduler" (or Options'
// SchedulerName) and that have no spec.nodeName.
//
// Informer events feed a scheduling queue (active, back-off and
// unschedulable parts) and a cache of node usage. One loop pops a pod, runs
// the placement algorithm of package framework over the cache and assumes
// the pod on the chosen node at once, so the next pod sees it; binding
// (POST pods/NAME/binding) then happens in the background. A pod that fits
// nowhere gets PodScheduled=False, reason Unschedulable, and a
// FailedScheduling event with kube-scheduler's summary; it waits until a
// node is added or changes, or a pod goes away, and is retried with back-off.
//
// Not implemented: preemption, inter-pod affinity and explicit topology
// spread constraints (the fields are stored and ignored here), volume
// binding and limits, image locality, extenders, multiple profiles. Spreading
// counts pods of the same controller (ownerReference) per node, which is what
// kube-scheduler's default topology spreading amounts to for ReplicaSets.
package scheduler
