// Package containerd is the agent's CRI runtime: it talks the Container
// Runtime Interface (through k8s.io/cri-client) to a containerd, either one
// the user runs (Config.Endpoint, the agent's --cri-socket) or one the agent
// starts itself as a child process with its own configuration, root, state,
// socket and CNI network under the agent's data dir.
//
// For a containerd it started, the runtime imports the sandbox (pause) image
// before the first pod, and on Close stops and removes every sandbox, stops
// containerd and removes what containerd and the CNI plugins leave behind on
// the host: the pod bridge, the CNI iptables chains of its network, the pod
// cgroups and the network namespace mounts.
package containerd
