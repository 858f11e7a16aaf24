// Package nodelifecycle is Kubernetes' node lifecycle controller: it
// watches Nodes and their Leases in kube-node-lease, marks the conditions of
// a node whose agent stopped reporting as Unknown ("Kubelet stopped posting
// node status."), keeps the node.kubernetes.io/* NoSchedule and NoExecute
// taints in line with the node's conditions, marks the pods of a node that
// went unreachable not Ready, and evicts pods from nodes with NoExecute
// taints they do not tolerate (or tolerate only for tolerationSeconds), as
// the taint eviction controller does.
package nodelifecycle
