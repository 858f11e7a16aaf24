package process

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Pods reach addresses outside the cluster CIDR (other hosts, the
// internet) with the node's address, as the CNI bridge plugin's ipMasq
// option does, while pods on other nodes see their own address: one nat
// POSTROUTING rule per runtime, marked with the bridge's name so Close
// removes exactly it.

// masqueradeRule is the rule's match and target, without the chain.
func (n *network) masqueradeRule() []string {
	return []string{"-s", n.ipam.prefix.Masked().String(), "!", "-d", n.noMasq.String(),
		"-m", "comment", "--comment", "skiff process runtime " + n.bridge, "-j", "MASQUERADE"}
}

// iptablesCommand is iptables or ip6tables, for the pod CIDR's family.
func (n *network) iptablesCommand() string {
	if n.ipam.prefix.Addr().Is6() {
		return "ip6tables"
	}
	return "iptables"
}

// ensureMasqueradeLocked adds the rule unless it is there. Without
// iptables on the host, pods reach only the node and other pods: it says
// so once and goes on.
func (n *network) ensureMasqueradeLocked() error {
	cmd := n.iptablesCommand()
	if _, err := exec.LookPath(cmd); err != nil {
		if !n.masqWarned {
			n.masqWarned = true
			n.log.Warn("process runtime: "+cmd+" is not installed; pods get no outbound NAT", "err", err)
		}
		return nil
	}
	rule := n.masqueradeRule()
	if runIPTables(cmd, append([]string{"-C", "POSTROUTING"}, rule...)...) == nil {
		n.masquerading = true
		return nil
	}
	if err := runIPTables(cmd, append([]string{"-A", "POSTROUTING"}, rule...)...); err != nil {
		return err
	}
	n.masquerading = true
	return nil
}

// removeMasqueradeLocked deletes the rule (every copy of it).
func (n *network) removeMasqueradeLocked() error {
	if !n.masquerading {
		return nil
	}
	n.masquerading = false
	cmd, rule := n.iptablesCommand(), n.masqueradeRule()
	for runIPTables(cmd, append([]string{"-C", "POSTROUTING"}, rule...)...) == nil {
		if err := runIPTables(cmd, append([]string{"-D", "POSTROUTING"}, rule...)...); err != nil {
			return err
		}
	}
	return nil
}

func runIPTables(cmd string, args ...string) error {
	full := append([]string{"-w", "-t", "nat"}, args...)
	if _, err := exec.Command(cmd, full...).Output(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && len(exitErr.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(exitErr.Stderr)))
		}
		return fmt.Errorf("%s %s: %w", cmd, strings.Join(full, " "), err)
	}
	return nil
}
