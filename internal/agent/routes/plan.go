package routes

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
)

// Mode is how a peer's pod CIDR is reached.
type Mode string

// The modes of a route.
const (
	// HostGW routes through the peer's InternalIP on a shared subnet.
	HostGW Mode = "host-gw"
	// VXLAN routes through the vxlan device to the peer's VTEP.
	VXLAN Mode = "vxlan"
)

// Peer is another node, as far as routing is concerned.
type Peer struct {
	Name       string
	PodCIDR    netip.Prefix
	InternalIP netip.Addr
}

// LocalAddr is an address of this host and the index of its link.
type LocalAddr struct {
	Prefix netip.Prefix
	Link   int
}

// Self is this node: its pod CIDR (the VTEP address comes from it) and its
// InternalIP (the VXLAN source address).
type Self struct {
	PodCIDR    netip.Prefix
	InternalIP netip.Addr
}

// Route is one route to a peer's pod CIDR. For HostGW, Link is the link of
// the local address whose subnet holds Gateway; for VXLAN the route goes
// onlink through the vxlan device (its index is known only when acting).
type Route struct {
	Node    string
	Dst     netip.Prefix
	Gateway netip.Addr
	Link    int
	Mode    Mode
}

// VXLANPeer is what the vxlan device needs to reach one peer: its VTEP
// address and MAC (the neighbour entry) and its InternalIP (the forwarding
// entry).
type VXLANPeer struct {
	VTEP       netip.Addr
	MAC        net.HardwareAddr
	InternalIP netip.Addr
}

// VXLANDevice is the local end of the overlay.
type VXLANDevice struct {
	// VTEP is the device's address (the first of this node's pod CIDR),
	// MAC its hardware address (MACFor the pod CIDR).
	VTEP netip.Addr
	MAC  net.HardwareAddr
	// Source is the outer source address (this node's InternalIP) and
	// Parent the index of its link (0 when the address is not local).
	Source netip.Addr
	Parent int
}

// Plan is the state the node wants: the routes, and when any peer is
// reached by VXLAN, the device and its peers.
type Plan struct {
	Routes []Route
	// Device is nil when no peer needs VXLAN: then no device should exist.
	Device *VXLANDevice
	Peers  []VXLANPeer
	// Skipped names the peers that cannot be routed, and why.
	Skipped map[string]string
}

// MACFor is the VTEP MAC of the node whose pod CIDR is cidr: a locally
// administered unicast address, 0e:5f followed by the four bytes of the
// CIDR's first IPv4 address. Every node derives its peers' MACs the same
// way.
func MACFor(cidr netip.Prefix) net.HardwareAddr {
	a := cidr.Masked().Addr().As4()
	return net.HardwareAddr{0x0e, 0x5f, a[0], a[1], a[2], a[3]}
}

// VTEPFor is the VTEP address of the node whose pod CIDR is cidr: the
// CIDR's first address (never given to a pod).
func VTEPFor(cidr netip.Prefix) netip.Addr { return cidr.Masked().Addr() }

// Decide computes the plan of a node from the other nodes and the host's
// addresses. Peers are sorted by name so that equal inputs give equal plans.
func Decide(self Self, peers []Peer, local []LocalAddr) Plan {
	p := Plan{Skipped: map[string]string{}}
	peers = slices.Clone(peers)
	slices.SortFunc(peers, func(a, b Peer) int { return cmp.Compare(a.Name, b.Name) })
	for _, peer := range peers {
		if why := unroutable(self, peer, local); why != "" {
			p.Skipped[peer.Name] = why
			continue
		}
		dst := peer.PodCIDR.Masked()
		if link, ok := connected(peer.InternalIP, local); ok {
			p.Routes = append(p.Routes, Route{Node: peer.Name, Dst: dst, Gateway: peer.InternalIP, Link: link, Mode: HostGW})
			continue
		}
		if !self.PodCIDR.IsValid() || !self.PodCIDR.Addr().Is4() || !self.InternalIP.Is4() {
			p.Skipped[peer.Name] = "needs VXLAN, but this node has no IPv4 pod CIDR or InternalIP yet"
			continue
		}
		vtep := VTEPFor(peer.PodCIDR)
		p.Routes = append(p.Routes, Route{Node: peer.Name, Dst: dst, Gateway: vtep, Mode: VXLAN})
		p.Peers = append(p.Peers, VXLANPeer{VTEP: vtep, MAC: MACFor(peer.PodCIDR), InternalIP: peer.InternalIP})
	}
	if len(p.Peers) > 0 {
		d := &VXLANDevice{VTEP: VTEPFor(self.PodCIDR), MAC: MACFor(self.PodCIDR), Source: self.InternalIP}
		for _, a := range local {
			if a.Prefix.Addr() == self.InternalIP {
				d.Parent = a.Link
				break
			}
		}
		p.Device = d
	}
	return p
}

// unroutable says why a peer gets no route ("" when it gets one).
func unroutable(self Self, peer Peer, local []LocalAddr) string {
	switch {
	case !peer.PodCIDR.IsValid():
		return "no pod CIDR"
	case !peer.InternalIP.IsValid():
		return "no InternalIP"
	case !peer.PodCIDR.Addr().Is4() || !peer.InternalIP.Is4():
		return "not IPv4"
	case self.PodCIDR.IsValid() && self.PodCIDR.Overlaps(peer.PodCIDR):
		return "pod CIDR overlaps this node's"
	case peer.InternalIP == self.InternalIP:
		return "InternalIP is this node's"
	}
	for _, a := range local {
		if a.Prefix.Addr() == peer.InternalIP {
			return "InternalIP is an address of this host"
		}
		if a.Prefix.Overlaps(peer.PodCIDR) && a.Prefix.Bits() <= peer.PodCIDR.Bits() {
			return "pod CIDR is inside a directly connected subnet of this host"
		}
	}
	return ""
}

// connected reports whether ip is on a directly connected subnet (an
// address of a non-host prefix whose subnet holds it) and the link of that
// address. Loopback and /32 addresses connect nothing.
func connected(ip netip.Addr, local []LocalAddr) (int, bool) {
	for _, a := range local {
		if a.Prefix.Addr().IsLoopback() || a.Prefix.IsSingleIP() || !a.Prefix.Addr().Is4() {
			continue
		}
		if a.Prefix.Masked().Contains(ip) {
			return a.Link, true
		}
	}
	return 0, false
}
