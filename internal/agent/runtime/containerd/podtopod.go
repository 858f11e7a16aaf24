package containerd

import (
	"fmt"
	"os/exec"
)

// The CNI bridge plugin's ipMasq masquerades everything a pod sends outside
// its node's pod CIDR, pods on other nodes included. A nat POSTROUTING rule
// inserted ahead of it returns traffic from the pod CIDR to the cluster
// CIDR unchanged, so that a pod sees the other pod's own address. Its
// comment holds the network's name, so cleanupIPTables removes it with the
// plugin's rules when the runtime closes.

// podToPodRule is the rule's match and target, without the chain; nil
// without a cluster CIDR.
func (c *Config) podToPodRule() []string {
	if !c.ClusterCIDR.IsValid() || !c.PodCIDR.IsValid() || c.ClusterCIDR.Addr().Is4() != c.PodCIDR.Addr().Is4() {
		return nil
	}
	return []string{"-s", c.PodCIDR.Masked().String(), "-d", c.ClusterCIDR.Masked().String(),
		"-m", "comment", "--comment", fmt.Sprintf(`skiff pod-to-pod, name: "%s"`, c.networkName()), "-j", "RETURN"}
}

// ensurePodToPod inserts the rule first in POSTROUTING unless it is there.
func ensurePodToPod(c *Config) error {
	rule := c.podToPodRule()
	if rule == nil || c.PodCIDR.Addr().Is6() {
		return nil
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return fmt.Errorf("iptables is not installed: %w", err)
	}
	if iptables(append([]string{"-C", "POSTROUTING"}, rule...)...) == nil {
		return nil
	}
	return iptables(append([]string{"-I", "POSTROUTING", "1"}, rule...)...)
}
