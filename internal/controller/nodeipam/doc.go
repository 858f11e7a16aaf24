// Package nodeipam is Kubernetes' node IPAM controller with its range
// allocator: it gives every Node without one a pod CIDR (spec.podCIDR and
// spec.podCIDRs), a subnet of the cluster CIDR, never one another node
// holds, and takes it back when the node is deleted. When the cluster CIDR
// has no free subnet left the node gets a "CIDRNotAvailable" event and is
// tried again later.
package nodeipam
