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
