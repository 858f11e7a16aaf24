package server

import (
	"net/netip"
	"testing"

	"skiff.dev/skiff/internal/wellknown"
)

func TestClusterNetworkConfigMap(t *testing.T) {
	tests := []struct {
		name                string
		cluster, service    netip.Prefix
		wantCluster, wantSv string
	}{
		{"the flags", netip.MustParsePrefix("10.123.0.0/16"), netip.MustParsePrefix("10.124.0.0/16"), "10.123.0.0/16", "10.124.0.0/16"},
		{"defaults", netip.Prefix{}, netip.Prefix{}, "10.42.0.0/16", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cm := clusterNetworkConfigMap(tc.cluster, tc.service)
			if cm.Namespace != "kube-system" || cm.Name != wellknown.ClusterNetworkConfigMapName {
				t.Errorf("ConfigMap %s/%s", cm.Namespace, cm.Name)
			}
			if got := cm.Data[wellknown.ClusterCIDRKey]; got != tc.wantCluster {
				t.Errorf("cluster CIDR %q, want %q", got, tc.wantCluster)
			}
			if got := cm.Data[wellknown.ServiceCIDRKey]; got != tc.wantSv {
				t.Errorf("service CIDR %q, want %q", got, tc.wantSv)
			}
		})
	}
}
