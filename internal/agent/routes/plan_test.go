package routes

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/wellknown"
)

var netipOpt = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

func TestDecide(t *testing.T) {
	self := Self{PodCIDR: pfx("10.42.0.0/24"), InternalIP: ip("192.168.50.1")}
	lan := []LocalAddr{
		{Prefix: pfx("127.0.0.1/8"), Link: 1},
		{Prefix: pfx("192.168.50.1/24"), Link: 2},
		{Prefix: pfx("10.42.0.1/24"), Link: 3}, // the pod bridge
	}
	tests := []struct {
		name        string
		self        Self
		peers       []Peer
		local       []LocalAddr
		want        []Route
		wantDevice  *VXLANDevice
		wantPeers   []VXLANPeer
		wantSkipped map[string]string
	}{{
		name:  "peers on the same subnet: host-gw through the LAN link",
		self:  self,
		local: lan,
		peers: []Peer{
			{Name: "b", PodCIDR: pfx("10.42.2.0/24"), InternalIP: ip("192.168.50.3")},
			{Name: "a", PodCIDR: pfx("10.42.1.0/24"), InternalIP: ip("192.168.50.2")},
		},
		want: []Route{
			{Node: "a", Dst: pfx("10.42.1.0/24"), Gateway: ip("192.168.50.2"), Link: 2, Mode: HostGW},
			{Node: "b", Dst: pfx("10.42.2.0/24"), Gateway: ip("192.168.50.3"), Link: 2, Mode: HostGW},
		},
	}, {
		name:  "a peer on another subnet: VXLAN to its VTEP, the device on the InternalIP's link",
		self:  self,
		local: lan,
		peers: []Peer{
			{Name: "far", PodCIDR: pfx("10.42.7.0/24"), InternalIP: ip("172.16.9.4")},
			{Name: "near", PodCIDR: pfx("10.42.1.0/24"), InternalIP: ip("192.168.50.2")},
		},
		want: []Route{
			{Node: "far", Dst: pfx("10.42.7.0/24"), Gateway: ip("10.42.7.0"), Mode: VXLAN},
			{Node: "near", Dst: pfx("10.42.1.0/24"), Gateway: ip("192.168.50.2"), Link: 2, Mode: HostGW},
		},
		wantDevice: &VXLANDevice{VTEP: ip("10.42.0.0"), MAC: net.HardwareAddr{0x0e, 0x5f, 10, 42, 0, 0}, Source: ip("192.168.50.1"), Parent: 2},
		wantPeers:  []VXLANPeer{{VTEP: ip("10.42.7.0"), MAC: net.HardwareAddr{0x0e, 0x5f, 10, 42, 7, 0}, InternalIP: ip("172.16.9.4")}},
	}, {
		name:  "loopback and host addresses connect nothing: VXLAN",
		self:  Self{PodCIDR: pfx("10.42.0.0/24"), InternalIP: ip("10.0.0.5")},
		local: []LocalAddr{{Prefix: pfx("127.0.0.1/8"), Link: 1}, {Prefix: pfx("10.0.0.5/32"), Link: 2}},
		peers: []Peer{{Name: "a", PodCIDR: pfx("10.42.1.0/24"), InternalIP: ip("10.0.0.6")}},
		want:  []Route{{Node: "a", Dst: pfx("10.42.1.0/24"), Gateway: ip("10.42.1.0"), Mode: VXLAN}},
		wantDevice: &VXLANDevice{VTEP: ip("10.42.0.0"), MAC: net.HardwareAddr{0x0e, 0x5f, 10, 42, 0, 0},
			Source: ip("10.0.0.5"), Parent: 2},
		wantPeers: []VXLANPeer{{VTEP: ip("10.42.1.0"), MAC: net.HardwareAddr{0x0e, 0x5f, 10, 42, 1, 0}, InternalIP: ip("10.0.0.6")}},
	}, {
		name:  "unroutable peers are skipped with a reason",
		self:  self,
		local: append(lan, LocalAddr{Prefix: pfx("192.168.50.9/24"), Link: 2}),
		peers: []Peer{
			{Name: "no-cidr", InternalIP: ip("192.168.50.2")},
			{Name: "no-ip", PodCIDR: pfx("10.42.1.0/24")},
			{Name: "overlap", PodCIDR: pfx("10.42.0.0/24"), InternalIP: ip("192.168.50.4")},
			{Name: "same-host", PodCIDR: pfx("10.42.3.0/24"), InternalIP: ip("192.168.50.9")},
			{Name: "same-ip", PodCIDR: pfx("10.42.4.0/24"), InternalIP: ip("192.168.50.1")},
			{Name: "v6", PodCIDR: pfx("fd00:42::/64"), InternalIP: ip("192.168.50.5")},
		},
		wantSkipped: map[string]string{
			"no-cidr": "no pod CIDR", "no-ip": "no InternalIP", "overlap": "pod CIDR overlaps this node's",
			"same-host": "InternalIP is an address of this host", "same-ip": "InternalIP is this node's",
			"v6": "not IPv4",
		},
	}, {
		name:  "VXLAN needs this node's pod CIDR for its VTEP",
		self:  Self{InternalIP: ip("192.168.50.1")},
		local: lan,
		peers: []Peer{{Name: "far", PodCIDR: pfx("10.42.7.0/24"), InternalIP: ip("172.16.9.4")}},
		wantSkipped: map[string]string{
			"far": "needs VXLAN, but this node has no IPv4 pod CIDR or InternalIP yet",
		},
	}, {
		name:  "no peers: nothing, and no device",
		self:  self,
		local: lan,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.self, tc.peers, tc.local)
			if diff := cmp.Diff(tc.want, got.Routes, netipOpt); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantDevice, got.Device, netipOpt); diff != "" {
				t.Errorf("device (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantPeers, got.Peers, netipOpt); diff != "" {
				t.Errorf("vxlan peers (-want +got):\n%s", diff)
			}
			if tc.wantSkipped == nil {
				tc.wantSkipped = map[string]string{}
			}
			if diff := cmp.Diff(tc.wantSkipped, got.Skipped, netipOpt); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPeers(t *testing.T) {
	node := func(name, cidr, ip string, lbls map[string]string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}, Spec: corev1.NodeSpec{PodCIDR: cidr}}
		if ip != "" {
			n.Status.Addresses = []corev1.NodeAddress{
				{Type: corev1.NodeHostName, Address: name},
				{Type: corev1.NodeInternalIP, Address: "fd00::1"},
				{Type: corev1.NodeInternalIP, Address: ip},
			}
		}
		return n
	}
	self, peers := Peers("me", []*corev1.Node{
		node("me", "10.42.0.0/24", "192.168.50.1", nil),
		node("other", "10.42.1.0/24", "192.168.50.2", nil),
		node("hollow-0", "10.42.2.0/24", "10.41.0.1", map[string]string{wellknown.SimulatedLabel: "true"}),
		node("new", "", "", nil),
	})
	if diff := cmp.Diff(Self{PodCIDR: pfx("10.42.0.0/24"), InternalIP: ip("192.168.50.1")}, self, netipOpt); diff != "" {
		t.Errorf("self (-want +got):\n%s", diff)
	}
	want := []Peer{
		{Name: "other", PodCIDR: pfx("10.42.1.0/24"), InternalIP: ip("192.168.50.2")},
		{Name: "new"},
	}
	if diff := cmp.Diff(want, peers, netipOpt); diff != "" {
		t.Errorf("peers (-want +got):\n%s", diff)
	}
}
