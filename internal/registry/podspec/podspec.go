// Package podspec holds the defaulting and validation of pod specs and pod
// templates that Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets,
// Jobs and CronJobs share, matching Kubernetes' field paths and messages.
//
// Kubernetes applies some defaults to every pod spec (in a Pod and in a pod
// template alike) and some to Pods only; SetDefaultsPodSpec does the former
// and SetDefaultsPod the latter, so that `kubectl get deploy -o yaml` and
// `kubectl get pod -o yaml` show exactly the fields a real cluster shows.
package podspec
