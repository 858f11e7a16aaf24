// Package hollow runs simulated node agents ("hollow nodes"): many fake
// kubelets in one process, for testing the control plane at scale without
// containers.
//
// A hollow node registers a Node (labelled and annotated
// skiff.dev/simulated=true), renews its coordination.k8s.io Lease in
// kube-node-lease like the kubelet, reports node status when it changes or
// every NodeStatusReportFrequency, and "runs" the pods bound to it: they go
// Running with an IP from the node's pod CIDR within moments, become Ready
// after their readiness probe's initialDelaySeconds, and containers of pods
// whose restartPolicy is not Always exit after ContainerRunTime (code 0, or
// the code in the pod annotation skiff.dev/simulate-exit-code). Init
// containers complete at once (exit 0, ready); a pod past its
// activeDeadlineSeconds is stopped and fails with DeadlineExceeded; the
// kubelet's container events (the image, Created, Started, Killing) are
// recorded in its words, with source kubelet. Nothing is executed. All nodes of a Cluster share one pod informer and one workqueue,
// so a thousand nodes cost a thousand small heartbeat goroutines and no more
// watches.
//
// With Options.ClientCA, every node serves the kubelet's /stats/summary and
// /metrics/resource on its InternalIP (a loopback address by default)
// behind the kubelet server's authentication and authorization, with the
// certificate Options.ServingCertificate makes: one HTTP server and handler, one
// listener per node, the node picked by the address a request came in on.
// A running container uses what its pod's skiff.dev/simulate-cpu and
// skiff.dev/simulate-memory annotations say (Options.PodCPU and PodMemory
// without them), split evenly between the pod's running containers; its
// CPU time is a counter growing at that rate, so the rate a scraper
// computes from two scrapes is the annotated value, and it follows the
// annotation when it changes. The node reports the sum of its pods.
package hollow
