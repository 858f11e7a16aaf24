// Package framework is the scheduler's placement algorithm as a function
// over a snapshot of nodes: NodeInfo aggregates what is already placed on a
// node (assumed pods included), PodInfo holds what a pod asks for, computed
// once, and Algorithm runs the filters (node unschedulable, node name,
// taints, node affinity and selector, host ports, resources) and the scorers
// (least allocated, balanced allocation, spreading of one owner's pods,
// preferred node affinity, PreferNoSchedule taints) over a sample of the
// nodes, as kube-scheduler's default profile does.
//
// The failure messages are kube-scheduler's, so that
// "0/3 nodes are available: 3 Insufficient cpu." reads the same here.
// Nothing in this package talks to the API server; internal/scheduler feeds
// it from informers.
package framework
