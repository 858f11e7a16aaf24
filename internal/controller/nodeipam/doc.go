// Package nodeipam is Kubernetes' node IPAM controller with its range
// allocator: it gives every Node without one a pod CIDR (spec.podCIDR and
// spec.podCIDRs), a subnet of the cluster CIDR, never one another node
// holds, and takes it back when the node is deleted. When the cluster CIDR
// has no free subnet left the node gets a "CIDRNotAvailable" event and its
// NetworkUnavailable condition True (reason NoCIDRAvailable), so the node
// lifecycle controller taints it node.kubernetes.io/network-unavailable and
// no pod is scheduled there; it is tried again later, and the condition
// turns False (reason CIDRAssigned) once it has a CIDR. ShortageWarning
// tells ahead of time when a cluster CIDR cannot cover a number of nodes.
package nodeipam
