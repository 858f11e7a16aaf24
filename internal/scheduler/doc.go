// Package scheduler places pending pods on nodes, as kube-scheduler does for
// pods whose spec.schedulerName is "default-scheduler" (or Options'
// SchedulerName) and that have no spec.nodeName.
//
// Informer events feed a scheduling queue (active, back-off and
// unschedulable parts) and a cache of node usage. One loop pops a pod,
// brings its snapshot of the cache up to date (under the cache's lock,
// copying only the nodes that changed), runs the placement algorithm of
// package framework over the snapshot without the lock, and assumes the pod
// on the chosen node in the cache at once, so the next pod sees it; binding
// (POST pods/NAME/binding) then happens in the background. A pod that fits
// nowhere gets PodScheduled=False, reason Unschedulable, and a
// FailedScheduling event with kube-scheduler's summary; it waits until a
// node is added or changes, or a pod goes away, and is retried with back-off.
//
// The checks are plugins (package framework/plugins), one per file:
// NodeUnschedulable, NodeName, TaintToleration, NodeAffinity (node selector
// and required affinity), NodePorts and NodeResourcesFit (cpu, memory,
// ephemeral storage, pods, nvidia.com/gpu and other extended resources)
// filter; NodeResourcesFit (least allocated), BalancedAllocation,
// OwnerSpread, NodeAffinity (preferred terms) and TaintToleration
// (PreferNoSchedule) score. plugins.Default lists them with their weights.
//
// To add a check (volumes, inter-pod affinity, topology spread...): write a
// file in framework/plugins with a type that implements
// framework.FilterPlugin and/or framework.ScorePlugin, plus PreFilter,
// PreScore or NormalizeScores where it needs them (per-pod work goes in
// PreFilter or PreScore, into the CycleState, not into every Filter call);
// give an Unschedulable status kube-scheduler's wording, since it reaches
// the FailedScheduling message as is; write its table test beside it
// (frameworktest.RunFilter and RunScore run a plugin as the Algorithm does);
// and add it to plugins.Default in kube-scheduler's order. A plugin reads
// the NodeInfo it is given and never changes it. If it needs to know more
// about the pods on a node than NodeInfo keeps, add that to NodeInfo (and
// to its Clone).
//
// Not implemented: preemption, inter-pod affinity and explicit topology
// spread constraints (the fields are stored and ignored here), volume
// binding and limits, image locality, extenders, multiple profiles. Spreading
// counts pods of the same controller (ownerReference) per node, which is what
// kube-scheduler's default topology spreading amounts to for ReplicaSets.
package scheduler
