// Package stats measures what the node, its pods and their containers use
// (CPU and memory, as the kubelet's stats do) and renders it as the
// kubelet's /stats/summary (k8s.io/kubelet stats/v1alpha1 Summary) and
// /metrics/resource (Prometheus) answers.
//
// Sources:
//   - cgroups (v1 and v2): cumulative CPU time (v1 cpuacct.usage, v2
//     cpu.stat usage_usec) and memory working set, Kubernetes' definition:
//     usage minus inactive file pages, floored at 0 (v1
//     memory.usage_in_bytes - memory.stat total_inactive_file, v2
//     memory.current - memory.stat inactive_file);
//   - the node: the root cgroup on v1, /proc/stat and /proc/meminfo
//     otherwise;
//   - containers: the runtime's CRI ListContainerStats (the process runtime
//     reads its cgroups, containerd reports usageCoreNanoSeconds and
//     workingSetBytes itself).
//
// A pod's usage is the sum of its running containers' (the pod sandbox's
// own pause process is not counted).
//
// CPU in nanocores (the summary's usageNanoCores) is a rate: the Collector
// keeps one sample per container, pod and node and computes the average
// over the time since that sample, replacing it only once it is at least
// MinWindow old (default 1s); until a sample that old exists the rate is
// left out. Run samples every Interval (default 10s) in the background so
// an on-demand scrape always finds one. The cumulative counters in
// /metrics/resource need no window: a scraper turns two scrapes into a
// rate.
package stats
