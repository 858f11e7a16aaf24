// Package framework is the scheduler's placement algorithm as a function
// over a snapshot of nodes, run as a list of small plugins, in the spirit of
// kube-scheduler's scheduling framework.
//
// NodeInfo aggregates what is already placed on a node (assumed pods
// included); PodInfo holds what a pod asks for, computed once. A Profile
// lists the plugins: FilterPlugins, which say whether a pod may run on a
// node (an Unschedulable Status carries kube-scheduler's reason, such as
// "Insufficient nvidia.com/gpu"), and weighted ScorePlugins, which rank the
// nodes that passed. A plugin may also implement PreFilterPlugin or
// PreScorePlugin, to compute once per pod what it needs for every node and
// keep it in the CycleState (or to Skip itself for this pod), and
// ScoreNormalizer, to bring its raw scores into 0..MaxNodeScore.
//
// Algorithm runs a Profile as kube-scheduler runs its default profile:
// pre-filters, then the filters over the nodes in turn (the first filter
// that fails decides a node's reasons) until enough feasible nodes are
// found, then pre-scores, scores, normalisation and weights over those, and
// the best sum wins, ties broken at random. When no node fits, FitError
// counts the reasons into kube-scheduler's summary, so that
// "0/3 nodes are available: 3 Insufficient nvidia.com/gpu." reads the same
// here.
//
// The plugins themselves, and the profile the scheduler uses, are in
// package plugins; frameworktest helps test them. Nothing here talks to the
// API server, and nothing here locks: internal/scheduler hands the
// Algorithm a snapshot it owns.
package framework
