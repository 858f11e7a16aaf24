package framework

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

type portKey struct {
	protocol corev1.Protocol
	port     int32
}

// NodeInfo is a node with the sum of what the pods placed on it request.
// It is not safe for concurrent use: the scheduler's cache changes its own
// NodeInfos under its lock, and the Algorithm reads clones of them (a
// snapshot) without it.
type NodeInfo struct {
	node *corev1.Node

	// Allocatable is the node's status.allocatable; AllowedPods its "pods".
	Allocatable Resource
	AllowedPods int64

	// Requested sums the requests of the pods on the node; NonZeroMilliCPU
	// and NonZeroMemory sum their scoring requests.
	Requested       Resource
	NonZeroMilliCPU int64
	NonZeroMemory   int64
	// Pods counts the pods on the node.
	Pods int

	ports  map[portKey]map[string]int
	owners map[types.UID]int
}

// NewNodeInfo returns an empty NodeInfo for node, which may be nil when pods
// are known on a node the informer has not delivered yet.
func NewNodeInfo(node *corev1.Node) *NodeInfo {
	n := &NodeInfo{}
	n.SetNode(node)
	return n
}

// Node returns the node object, or nil.
func (n *NodeInfo) Node() *corev1.Node { return n.node }

// SetNode replaces the node object, keeping the pods.
func (n *NodeInfo) SetNode(node *corev1.Node) {
	n.node = node
	n.Allocatable, n.AllowedPods = Resource{}, 0
	if node != nil {
		n.Allocatable = NewResource(node.Status.Allocatable)
		n.AllowedPods = node.Status.Allocatable.Pods().Value()
	}
}

// AddPod accounts for a pod placed on the node.
func (n *NodeInfo) AddPod(pi *PodInfo) { n.update(pi, 1) }

// RemovePod undoes AddPod.
func (n *NodeInfo) RemovePod(pi *PodInfo) { n.update(pi, -1) }

func (n *NodeInfo) update(pi *PodInfo, sign int) {
	if sign > 0 {
		n.Requested.Add(&pi.Requests)
	} else {
		n.Requested.Sub(&pi.Requests)
	}
	n.NonZeroMilliCPU += int64(sign) * pi.NonZeroMilliCPU
	n.NonZeroMemory += int64(sign) * pi.NonZeroMemory
	n.Pods += sign
	for _, hp := range pi.HostPorts {
		k := portKey{hp.Protocol, hp.Port}
		if n.ports == nil {
			n.ports = map[portKey]map[string]int{}
		}
		ips := n.ports[k]
		if ips == nil {
			ips = map[string]int{}
			n.ports[k] = ips
		}
		ips[hp.IP] += sign
		if ips[hp.IP] <= 0 {
			delete(ips, hp.IP)
			if len(ips) == 0 {
				delete(n.ports, k)
			}
		}
	}
	if pi.Owner != "" {
		if n.owners == nil {
			n.owners = map[types.UID]int{}
		}
		n.owners[pi.Owner] += sign
		if n.owners[pi.Owner] <= 0 {
			delete(n.owners, pi.Owner)
		}
	}
}

// OwnedPods counts the pods on the node whose controller has the given UID.
func (n *NodeInfo) OwnedPods(owner types.UID) int {
	if owner == "" {
		return 0
	}
	return n.owners[owner]
}

// Clone returns a deep copy that shares only the Node object (which
// nobody changes) and the allocatable amounts (which SetNode replaces
// rather than changes).
func (n *NodeInfo) Clone() *NodeInfo {
	c := *n
	c.Requested.Scalar = maps.Clone(n.Requested.Scalar)
	c.owners = maps.Clone(n.owners)
	if n.ports != nil {
		c.ports = make(map[portKey]map[string]int, len(n.ports))
		for k, ips := range n.ports {
			c.ports[k] = maps.Clone(ips)
		}
	}
	return &c
}

// HostPortConflict reports whether hp clashes with a host port in use: the same
// protocol and port on the same IP, or where either side binds 0.0.0.0.
func (n *NodeInfo) HostPortConflict(hp HostPort) bool {
	ips := n.ports[portKey{hp.Protocol, hp.Port}]
	if len(ips) == 0 {
		return false
	}
	if hp.IP == "0.0.0.0" {
		return true
	}
	return ips[hp.IP] > 0 || ips["0.0.0.0"] > 0
}
