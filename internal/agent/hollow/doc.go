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
// the code in the pod annotation skiff.dev/simulate-exit-code). Nothing is
// executed. All nodes of a Cluster share one pod informer and one workqueue,
// so a thousand nodes cost a thousand small heartbeat goroutines and no more
// watches.
package hollow
