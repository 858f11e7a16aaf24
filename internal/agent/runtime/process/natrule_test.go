package process

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
)

func TestMasqueradeRuleKeepsPodToPodTraffic(t *testing.T) {
	tests := []struct {
		name, podCIDR, clusterCIDR, want string
	}{
		{"cluster CIDR known: pods on other nodes are not masqueraded", "10.42.1.0/24", "10.42.0.0/16",
			"-s 10.42.1.0/24 ! -d 10.42.0.0/16"},
		{"no cluster CIDR: only the node's own pods are exempt", "10.42.1.0/24", "",
			"-s 10.42.1.0/24 ! -d 10.42.1.0/24"},
		{"a cluster CIDR of the other family is ignored", "10.42.1.0/24", "fd00:42::/48",
			"-s 10.42.1.0/24 ! -d 10.42.1.0/24"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cluster netip.Prefix
			if tc.clusterCIDR != "" {
				cluster = netip.MustParsePrefix(tc.clusterCIDR)
			}
			n, err := newNetwork(t.TempDir(), "skptest", netip.MustParsePrefix(tc.podCIDR), cluster, slog.Default())
			if err != nil {
				t.Fatal(err)
			}
			rule := strings.Join(n.masqueradeRule(), " ")
			if !strings.HasPrefix(rule, tc.want+" ") || !strings.HasSuffix(rule, "-j MASQUERADE") {
				t.Errorf("rule %q, want it to start with %q and masquerade", rule, tc.want)
			}
		})
	}
}
