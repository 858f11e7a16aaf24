package nodeipam

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The reasons of the NodeNetworkUnavailable condition this controller
// writes: True while the node waits for a pod CIDR none is left of, False
// once it has one.
const (
	ReasonNoCIDRAvailable = "NoCIDRAvailable"
	ReasonCIDRAssigned    = "CIDRAssigned"
)

// exhaustedMessage says why a node has no pod CIDR: the cluster CIDR's
// subnets of the node mask size are all taken.
func exhaustedMessage(cluster netip.Prefix, bits int, subnets uint64) string {
	return fmt.Sprintf("no pod CIDR left for the node: all %d /%d subnets of cluster CIDR %s are assigned to other nodes (raise --cluster-cidr's size or lower the node count)",
		subnets, bits, cluster)
}

// networkCondition decides the node's NetworkUnavailable condition: True
// with exhausted as its message when exhausted is not empty; False once the
// node has cidr, when this controller had set it True; otherwise the
// condition is left alone (another component may own it). It reports
// whether the condition must be written.
func networkCondition(n *corev1.Node, exhausted string, cidr netip.Prefix, now metav1.Time) (corev1.NodeCondition, bool) {
	var cur *corev1.NodeCondition
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeNetworkUnavailable {
			cur = &n.Status.Conditions[i]
		}
	}
	want := corev1.NodeCondition{Type: corev1.NodeNetworkUnavailable, LastHeartbeatTime: now, LastTransitionTime: now}
	switch {
	case exhausted != "":
		want.Status, want.Reason, want.Message = corev1.ConditionTrue, ReasonNoCIDRAvailable, exhausted
	case cur != nil && cur.Status == corev1.ConditionTrue && cur.Reason == ReasonNoCIDRAvailable && cidr.IsValid():
		want.Status, want.Reason, want.Message = corev1.ConditionFalse, ReasonCIDRAssigned, fmt.Sprintf("pod CIDR %s is assigned", cidr)
	default:
		return corev1.NodeCondition{}, false
	}
	if cur == nil {
		return want, true
	}
	if cur.Status == want.Status {
		if cur.Reason == want.Reason && cur.Message == want.Message {
			return corev1.NodeCondition{}, false
		}
		want.LastTransitionTime = cur.LastTransitionTime
	}
	return want, true
}

// withCondition returns a copy of n with c in place of its condition of
// c's type (or added).
func withCondition(n *corev1.Node, c corev1.NodeCondition) *corev1.Node {
	upd := n.DeepCopy()
	for i := range upd.Status.Conditions {
		if upd.Status.Conditions[i].Type == c.Type {
			upd.Status.Conditions[i] = c
			return upd
		}
	}
	upd.Status.Conditions = append(upd.Status.Conditions, c)
	return upd
}

// Capacity is how many pod CIDRs of prefix length nodeMaskSize the cluster
// CIDR holds (capped at 2^62), with the defaults New applies to a zero
// cluster CIDR or mask size.
func Capacity(cluster netip.Prefix, nodeMaskSize int) (uint64, error) {
	cluster, nodeMaskSize = defaults(cluster, nodeMaskSize)
	set, err := newCIDRSet(cluster, nodeMaskSize)
	if err != nil {
		return 0, err
	}
	return set.count, nil
}

// ShortageWarning returns, when the cluster CIDR cannot give each of nodes
// a pod CIDR, a message saying so with the numbers (the nodes left over
// get none, report NetworkUnavailable and take no pods); "" when it can.
func ShortageWarning(cluster netip.Prefix, nodeMaskSize, nodes int) (string, error) {
	cluster, nodeMaskSize = defaults(cluster, nodeMaskSize)
	n, err := Capacity(cluster, nodeMaskSize)
	if err != nil {
		return "", err
	}
	if nodes < 0 || uint64(nodes) <= n {
		return "", nil
	}
	return fmt.Sprintf("cluster CIDR %s holds %d pod CIDRs of /%d but %d nodes are asked for: %d nodes will get no pod CIDR, "+
		"report NetworkUnavailable and take no pods (use a larger --cluster-cidr)", cluster, n, nodeMaskSize, nodes, uint64(nodes)-n), nil
}

// defaults fills a zero cluster CIDR and mask size as New does.
func defaults(cluster netip.Prefix, nodeMaskSize int) (netip.Prefix, int) {
	if !cluster.IsValid() {
		cluster = DefaultClusterCIDR
	}
	if nodeMaskSize == 0 {
		nodeMaskSize = 24
		if cluster.Addr().Is6() {
			nodeMaskSize = 64
		}
	}
	return cluster, nodeMaskSize
}
