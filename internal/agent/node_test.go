package agent

import (
	"net"
	"testing"

	utilnet "k8s.io/apimachinery/pkg/util/net"
)

func TestLocalAddressTowards(t *testing.T) {
	host, hostErr := utilnet.ChooseHostInterface()
	tests := []struct {
		name, server string
		want         string // "" means the host's default-route address (or loopback without one)
	}{
		{"a server on loopback gives the host's address", "https://127.0.0.1:6443", ""},
		{"localhost too", "https://localhost:6443", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := localAddressTowards(tc.server)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "" {
				want = "127.0.0.1"
				if hostErr == nil {
					want = host.String()
				}
			}
			if got != want {
				t.Errorf("localAddressTowards(%s) = %s, want %s", tc.server, got, want)
			}
			if hostErr == nil && net.ParseIP(got).IsLoopback() {
				t.Errorf("a node address on loopback although the host has %s", host)
			}
		})
	}
	if _, err := localAddressTowards("://bad"); err == nil {
		t.Error("a bad server URL gave no error")
	}
}

func TestBridgeName(t *testing.T) {
	a := bridgeName("skp", "node-a", "/var/lib/skiff/agent")
	tests := []struct {
		name          string
		node, dataDir string
		same          bool
	}{
		{"same node and data dir", "node-a", "/var/lib/skiff/agent/", true},
		{"another data dir", "node-a", "/tmp/other/agent", false},
		{"another node", "node-b", "/var/lib/skiff/agent", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := bridgeName("skp", tc.node, tc.dataDir)
			if (a == b) != tc.same {
				t.Errorf("bridgeName(%s, %s) = %s vs %s, want same=%v", tc.node, tc.dataDir, b, a, tc.same)
			}
			if len(b) > 15 {
				t.Errorf("%q is longer than Linux's 15 characters", b)
			}
		})
	}
}
