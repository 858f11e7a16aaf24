package routes

import (
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// testNetns makes a network namespace with a link lan0 (a veth: this kernel may lack dummy links) at 192.168.77.1/24
// and returns a netlink handle into it; both go when the test ends.
func testNetns(t *testing.T) *netlink.Handle {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (a network namespace)")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		t.Skipf("cannot make a network namespace: %v", err)
	}
	if err := netns.Set(orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	lan := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "lan0"}, PeerName: "lan1"}
	if err := h.LinkAdd(lan); err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr("192.168.77.1/24")
	if err := h.AddrAdd(lan, addr); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(lan); err != nil {
		t.Fatal(err)
	}
	return h
}

// routesOf lists "dst via gw dev name" of the routes marked RouteProtocol.
func routesOf(t *testing.T, a *applier) []string {
	t.Helper()
	rs, err := a.ourRoutes()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		name := "?"
		if l, err := a.h.LinkByIndex(r.LinkIndex); err == nil {
			name = l.Attrs().Name
		}
		out = append(out, r.Dst.String()+" via "+r.Gw.String()+" dev "+name)
	}
	slices.Sort(out)
	return out
}

func TestApplyHostGWAndVXLAN(t *testing.T) {
	h := testNetns(t)
	a := &applier{h: h, device: "skvtest"}
	local, err := a.localAddrs()
	if err != nil {
		t.Fatal(err)
	}
	self := Self{PodCIDR: pfx("10.42.0.0/24"), InternalIP: ip("192.168.77.1")}
	near := Peer{Name: "near", PodCIDR: pfx("10.42.1.0/24"), InternalIP: ip("192.168.77.2")}
	far := Peer{Name: "far", PodCIDR: pfx("10.42.7.0/24"), InternalIP: ip("172.16.9.4")}

	// Twice: applying is idempotent.
	for range 2 {
		if err := a.apply(Decide(self, []Peer{near, far}, local)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"10.42.1.0/24 via 192.168.77.2 dev lan0", "10.42.7.0/24 via 10.42.7.0 dev skvtest"}
	if got := routesOf(t, a); !slices.Equal(got, want) {
		t.Errorf("routes %q, want %q", got, want)
	}
	link, err := h.LinkByName("skvtest")
	if err != nil {
		t.Fatalf("no vxlan device: %v", err)
	}
	v, ok := link.(*netlink.Vxlan)
	if !ok || v.VxlanId != VXLANID || v.Port != VXLANPort || v.HardwareAddr.String() != "0e:5f:0a:2a:00:00" ||
		!v.SrcAddr.Equal(net.ParseIP("192.168.77.1")) {
		t.Errorf("vxlan device %+v, want VNI %d port %d MAC 0e:5f:0a:2a:00:00 from 192.168.77.1", link, VXLANID, VXLANPort)
	}
	neighs, err := h.NeighList(link.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	if len(neighs) != 1 || !neighs[0].IP.Equal(net.ParseIP("10.42.7.0")) || neighs[0].HardwareAddr.String() != "0e:5f:0a:2a:07:00" {
		t.Errorf("neighbours %v, want 10.42.7.0 at 0e:5f:0a:2a:07:00", neighs)
	}
	fdb, err := h.NeighList(link.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(fdb, func(n netlink.Neigh) bool {
		return n.HardwareAddr.String() == "0e:5f:0a:2a:07:00" && n.IP.Equal(net.ParseIP("172.16.9.4"))
	}) {
		t.Errorf("forwarding entries %v, want 0e:5f:0a:2a:07:00 to 172.16.9.4", fdb)
	}

	// The far node leaves: its route and the device go, and a route that
	// is not ours stays.
	other := &netlink.Route{Dst: prefixNet(pfx("10.99.0.0/24")), Gw: net.ParseIP("192.168.77.3")}
	if err := h.RouteAdd(other); err != nil {
		t.Fatal(err)
	}
	if err := a.apply(Decide(self, []Peer{near}, local)); err != nil {
		t.Fatal(err)
	}
	if got := routesOf(t, a); !slices.Equal(got, want[:1]) {
		t.Errorf("after the far node left: routes %q, want %q", got, want[:1])
	}
	if _, err := h.LinkByName("skvtest"); err == nil {
		t.Error("the vxlan device stays with no VXLAN peer")
	}
	if err := a.cleanup(); err != nil {
		t.Fatal(err)
	}
	if got := routesOf(t, a); len(got) != 0 {
		t.Errorf("after cleanup: routes %q", got)
	}
	all, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(all, func(r netlink.Route) bool { return r.Dst != nil && strings.HasPrefix(r.Dst.String(), "10.99.0.0") }) {
		t.Error("cleanup removed a route that is not ours")
	}
}
