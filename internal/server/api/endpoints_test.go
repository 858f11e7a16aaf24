package api

import (
	"net/netip"
	"testing"
)

func TestEndpointAddress(t *testing.T) {
	if a, err := EndpointAddress("192.0.2.7"); err != nil || a != netip.MustParseAddr("192.0.2.7") {
		t.Errorf("routable advertise address: %v %v", a, err)
	}
	// Loopback, unspecified or a name: the default-route interface's
	// address, which is never loopback (a host without a default route
	// gets an error instead).
	for _, adv := range []string{"", "127.0.0.1", "::1", "0.0.0.0", "localhost"} {
		a, err := EndpointAddress(adv)
		if err == nil && (a.IsLoopback() || a.IsUnspecified()) {
			t.Errorf("%q: %v", adv, a)
		}
	}
}

func TestKubernetesSlice(t *testing.T) {
	s := kubernetesSlice(netip.MustParseAddr("fd00::5"), 6443)
	if s.AddressType != "IPv6" || *s.Ports[0].Port != 6443 || *s.Ports[0].Name != "https" || !*s.Endpoints[0].Conditions.Ready || len(s.Labels) != 1 {
		t.Errorf("slice = %+v", s)
	}
	ep := kubernetesEndpoints(netip.MustParseAddr("192.0.2.7"), 6443)
	if ep.Subsets[0].Addresses[0].IP != "192.0.2.7" || ep.Labels["endpointslice.kubernetes.io/skip-mirror"] != "true" {
		t.Errorf("endpoints = %+v", ep)
	}
}
