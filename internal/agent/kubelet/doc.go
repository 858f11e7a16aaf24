// Package kubelet is the node agent's kubelet: it registers the machine as a
// Node, keeps the Node's status and Lease fresh, and turns the pods bound to
// the node into sandboxes and containers of a runtime.Runtime, reporting
// their truth back in the pods' status.
//
// Structure (one concern per file):
//
//   - kubelet.go: Config and Run, which registers the node, waits for the
//     node's pod CIDR, creates the runtime and starts the pieces below.
//   - node.go, nodeinfo.go: the Node object (capacity, labels, addresses,
//     nodeInfo, conditions), its Lease heartbeat and status updates.
//   - pods.go: the pod manager: a pod informer limited to this node, one
//     worker goroutine per pod UID, and the relister ("PLEG") that compares
//     the runtime's sandboxes and containers every RelistPeriod, caches the
//     runtime state of the pods that changed and wakes their workers.
//     Workers are level triggered: every wake-up (informer event, runtime
//     change, probe result, back-off expiry, periodic resync) runs one full
//     sync of the pod.
//   - stores.go: the pod manager's state, one owned type per concern, each
//     with its own lock: the worker registry, the containers' waiting
//     reasons, admissions, and notes on container instances (kill reasons,
//     termination messages).
//   - podactions.go: computePodActions, a pure function from the pod, its
//     runtime state and its probe verdicts to what one sync does: kill the
//     pod, create a sandbox, which instances to kill and why, which init
//     containers, sidecars and containers to start.
//   - sync.go: one sync of one pod: admission, then the actions carried
//     out (sandbox, volumes, kills, starts with back-off), the probes, the
//     status; terminal pods, graceful deletion and cleanup.
//   - state.go: the runtime's view of one pod (its sandboxes and container
//     instances, newest first) and the cache of it that the relist fills; a
//     sync reads the runtime again only after it changed the pod there.
//   - container.go: starting one container (image pull per policy, env,
//     mounts, CRI config, postStart hook) and stopping one (preStop hook,
//     grace period).
//   - status.go: pure functions from the pod, the runtime's state and the
//     probe results to the API PodStatus (phase, conditions, container
//     statuses with their waiting reasons).
//   - probes.go: one goroutine per container and probe kind with the
//     kubelet's timing (initial delay, period, timeout, thresholds); their
//     verdicts in a store of their own, read by the syncs as a snapshot.
//   - backoff.go, resources.go, admission.go: restart and pull back-off,
//     requests and limits to CRI resources, node-fit admission; GPUs are
//     handed to containers at admission by internal/agent/devices and
//     freed when their pod is done.
//   - podsource.go: the kubelet server's view of the pods (container IDs
//     and log paths by namespace and name).
//   - deps.go: the sibling packages doing the volume, environment, probe
//     and kubelet-server work (volume, podenv, prober, kubeletserver),
//     behind small seams the tests can replace.
//
// Tests run the kubelet against a real API server (internal/testserver)
// with an in-memory fake runtime.
package kubelet
