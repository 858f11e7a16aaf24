package containerd

import (
	"net/netip"
	"slices"
	"testing"
)

func TestPodToPodRule(t *testing.T) {
	tests := []struct {
		name, podCIDR, clusterCIDR string
		want                       []string
	}{
		{"cluster CIDR known: pod-to-pod traffic returns before the bridge's masquerade", "10.42.1.0/24", "10.42.0.0/16",
			[]string{"-s", "10.42.1.0/24", "-d", "10.42.0.0/16", "-m", "comment", "--comment", `skiff pod-to-pod, name: "skc1"`, "-j", "RETURN"}},
		{"no cluster CIDR: no rule", "10.42.1.0/24", "", nil},
		{"another family: no rule", "10.42.1.0/24", "fd00:42::/48", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{PodCIDR: netip.MustParsePrefix(tc.podCIDR), BridgeName: "skc1"}
			if tc.clusterCIDR != "" {
				c.ClusterCIDR = netip.MustParsePrefix(tc.clusterCIDR)
			}
			got := c.podToPodRule()
			if !slices.Equal(got, tc.want) {
				t.Errorf("rule %q, want %q", got, tc.want)
			}
			if got != nil && !ruleHasComment(splitRule(`-A POSTROUTING -m comment --comment "skiff pod-to-pod, name: \"skc1\"" -j RETURN`), `name: "skc1"`) {
				t.Error("cleanupIPTables would not recognise the rule as the network's")
			}
		})
	}
}
