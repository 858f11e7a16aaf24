// Package routes is the node component that lets pods reach pods on other
// nodes. It watches Nodes through the API server and routes every other
// node's spec.podCIDR to that node:
//
//   - host-gw: when the other node's InternalIP is on a subnet this host is
//     directly connected to, a route "podCIDR via InternalIP";
//   - VXLAN otherwise: one vxlan device per node (VNI 1, UDP port 8472, as
//     flannel's), whose own address is the first address of this node's pod
//     CIDR; per peer a permanent neighbour entry (the peer's VTEP address to
//     its MAC), a forwarding entry (that MAC to the peer's InternalIP) and an
//     onlink route "podCIDR via VTEP dev vxlan". VTEP MACs are derived from
//     the pod CIDR (MACFor), so peers need no annotation to find each other.
//
// plan.go decides (nodes and local addresses -> the desired routes, pure and
// table-tested); netlink.go acts, idempotently, on routes marked with the
// route protocol RouteProtocol, so that a sync and the cleanup at stop touch
// exactly the routes this package made; routes.go holds the informer and the
// sync loop. Nodes without a pod CIDR or an InternalIP, simulated nodes, and
// nodes whose InternalIP is an address of this host (several agents on one
// machine) are not routed.
package routes
