package routes

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteProtocol marks the routes this package makes (the rtm_protocol of
// `ip route ... proto 211`), so that a sync and the cleanup remove exactly
// them and never a route someone else made.
const RouteProtocol netlink.RouteProtocol = 211

// VXLAN parameters, as flannel's on Linux: the LAN must carry UDP 8472
// between nodes that do not share a subnet.
const (
	VXLANPort = 8472
	VXLANID   = 1
)

// applier carries out plans with netlink in the network namespace of its
// handle: the routes marked RouteProtocol, the vxlan device named device
// and its neighbour and forwarding entries.
type applier struct {
	h      *netlink.Handle
	device string
}

// localAddrs lists the host's IPv4 addresses.
func (a *applier) localAddrs() ([]LocalAddr, error) {
	addrs, err := a.h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	var out []LocalAddr
	for _, ad := range addrs {
		ip, ok := netip.AddrFromSlice(ad.IP.To4())
		if !ok || ad.IPNet == nil {
			continue
		}
		ones, _ := ad.Mask.Size()
		out = append(out, LocalAddr{Prefix: netip.PrefixFrom(ip, ones), Link: ad.LinkIndex})
	}
	return out, nil
}

// apply makes the kernel match p: it adds or replaces every route of p,
// deletes the routes marked RouteProtocol that p does not hold, and
// creates, updates or deletes the vxlan device and its entries.
func (a *applier) apply(p Plan) error {
	vxlanIndex := 0
	if p.Device != nil {
		idx, err := a.ensureDevice(*p.Device)
		if err != nil {
			return err
		}
		vxlanIndex = idx
		if err := a.syncPeers(idx, p.Peers); err != nil {
			return err
		}
	}
	want := make([]netlink.Route, 0, len(p.Routes))
	for _, r := range p.Routes {
		nr := netlink.Route{
			Dst:      prefixNet(r.Dst),
			Gw:       net.IP(r.Gateway.AsSlice()),
			Protocol: RouteProtocol,
			Table:    unix.RT_TABLE_MAIN,
		}
		if r.Mode == VXLAN {
			nr.LinkIndex = vxlanIndex
			nr.Flags = int(netlink.FLAG_ONLINK)
		} else {
			nr.LinkIndex = r.Link
		}
		if err := a.h.RouteReplace(&nr); err != nil {
			return fmt.Errorf("route %s via %s (node %s, %s): %w", r.Dst, r.Gateway, r.Node, r.Mode, err)
		}
		want = append(want, nr)
	}
	if err := a.deleteRoutesExcept(want); err != nil {
		return err
	}
	if p.Device == nil {
		return a.deleteDevice()
	}
	return nil
}

// cleanup removes every route marked RouteProtocol and the vxlan device.
func (a *applier) cleanup() error {
	return errors.Join(a.deleteRoutesExcept(nil), a.deleteDevice())
}

// ourRoutes lists the routes marked RouteProtocol in the main table.
func (a *applier) ourRoutes() ([]netlink.Route, error) {
	rs, err := a.h.RouteListFiltered(netlink.FAMILY_V4,
		&netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes of protocol %d: %w", RouteProtocol, err)
	}
	return rs, nil
}

func (a *applier) deleteRoutesExcept(keep []netlink.Route) error {
	have, err := a.ourRoutes()
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range have {
		if slices.ContainsFunc(keep, func(k netlink.Route) bool { return sameRoute(k, r) }) {
			continue
		}
		if err := a.h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", r.Dst, err))
		}
	}
	return errors.Join(errs...)
}

func sameRoute(a, b netlink.Route) bool {
	return a.Dst != nil && b.Dst != nil && a.Dst.String() == b.Dst.String() &&
		a.Gw.Equal(b.Gw) && a.LinkIndex == b.LinkIndex
}

// ensureDevice creates the vxlan device or brings an existing one in line
// with d (recreating it when its fixed attributes differ), and returns its
// index.
func (a *applier) ensureDevice(d VXLANDevice) (int, error) {
	want := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: a.device, HardwareAddr: d.MAC, MTU: 0},
		VxlanId:      VXLANID,
		VtepDevIndex: d.Parent,
		SrcAddr:      net.IP(d.Source.AsSlice()),
		Port:         VXLANPort,
		Learning:     false,
	}
	if d.Parent != 0 {
		if parent, err := a.h.LinkByIndex(d.Parent); err == nil && parent.Attrs().MTU > 50 {
			want.MTU = parent.Attrs().MTU - 50 // the VXLAN header over IPv4
		}
	}
	link, err := a.h.LinkByName(a.device)
	if err == nil {
		v, ok := link.(*netlink.Vxlan)
		if !ok || v.VxlanId != want.VxlanId || v.Port != want.Port || !v.SrcAddr.Equal(want.SrcAddr) ||
			v.VtepDevIndex != want.VtepDevIndex {
			if err := a.h.LinkDel(link); err != nil {
				return 0, fmt.Errorf("replace vxlan device %s: %w", a.device, err)
			}
			link = nil
		}
	} else {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return 0, fmt.Errorf("vxlan device %s: %w", a.device, err)
		}
		link = nil
	}
	if link == nil {
		if err := a.h.LinkAdd(want); err != nil {
			return 0, fmt.Errorf("create vxlan device %s: %w", a.device, err)
		}
		if link, err = a.h.LinkByName(a.device); err != nil {
			return 0, fmt.Errorf("vxlan device %s: %w", a.device, err)
		}
	}
	if link.Attrs().HardwareAddr.String() != d.MAC.String() {
		if err := a.h.LinkSetHardwareAddr(link, d.MAC); err != nil {
			return 0, fmt.Errorf("vxlan device %s: set MAC: %w", a.device, err)
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(d.VTEP.AsSlice()), Mask: net.CIDRMask(32, 32)}}
	addrs, err := a.h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return 0, fmt.Errorf("vxlan device %s: list addresses: %w", a.device, err)
	}
	for _, have := range addrs {
		if !have.IP.Equal(addr.IP) {
			if err := a.h.AddrDel(link, &have); err != nil {
				return 0, fmt.Errorf("vxlan device %s: delete address %s: %w", a.device, have.IPNet, err)
			}
		}
	}
	if err := a.h.AddrReplace(link, addr); err != nil {
		return 0, fmt.Errorf("vxlan device %s: address %s: %w", a.device, d.VTEP, err)
	}
	if err := a.h.LinkSetUp(link); err != nil {
		return 0, fmt.Errorf("vxlan device %s: up: %w", a.device, err)
	}
	return link.Attrs().Index, nil
}

// syncPeers makes the device's permanent neighbour and forwarding entries
// those of peers.
func (a *applier) syncPeers(index int, peers []VXLANPeer) error {
	for _, p := range peers {
		neigh := &netlink.Neigh{LinkIndex: index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
			IP: net.IP(p.VTEP.AsSlice()), HardwareAddr: p.MAC}
		if err := a.h.NeighSet(neigh); err != nil {
			return fmt.Errorf("vxlan neighbour %s: %w", p.VTEP, err)
		}
		fdb := &netlink.Neigh{LinkIndex: index, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT,
			Flags: netlink.NTF_SELF, IP: net.IP(p.InternalIP.AsSlice()), HardwareAddr: p.MAC}
		if err := a.h.NeighSet(fdb); err != nil {
			return fmt.Errorf("vxlan forwarding entry %s -> %s: %w", p.MAC, p.InternalIP, err)
		}
	}
	neighs, err := a.h.NeighList(index, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("vxlan neighbours: %w", err)
	}
	for _, n := range neighs {
		if n.State&netlink.NUD_PERMANENT == 0 {
			continue
		}
		if !slices.ContainsFunc(peers, func(p VXLANPeer) bool { return n.IP.Equal(net.IP(p.VTEP.AsSlice())) }) {
			if err := a.h.NeighDel(&n); err != nil {
				return fmt.Errorf("delete vxlan neighbour %s: %w", n.IP, err)
			}
		}
	}
	fdbs, err := a.h.NeighList(index, unix.AF_BRIDGE)
	if err != nil {
		return fmt.Errorf("vxlan forwarding entries: %w", err)
	}
	for _, n := range fdbs {
		if n.IP == nil || n.HardwareAddr == nil {
			continue
		}
		if !slices.ContainsFunc(peers, func(p VXLANPeer) bool {
			return n.HardwareAddr.String() == p.MAC.String() && n.IP.Equal(net.IP(p.InternalIP.AsSlice()))
		}) {
			if err := a.h.NeighDel(&n); err != nil {
				return fmt.Errorf("delete vxlan forwarding entry %s: %w", n.HardwareAddr, err)
			}
		}
	}
	return nil
}

func (a *applier) deleteDevice() error {
	link, err := a.h.LinkByName(a.device)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("vxlan device %s: %w", a.device, err)
	}
	if err := a.h.LinkDel(link); err != nil {
		return fmt.Errorf("delete vxlan device %s: %w", a.device, err)
	}
	return nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
