package nodeipam

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNetworkCondition(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(t0.Add(time.Minute))
	cidr := netip.MustParsePrefix("10.42.1.0/24")
	node := func(conds ...corev1.NodeCondition) *corev1.Node {
		return &corev1.Node{Status: corev1.NodeStatus{Conditions: append([]corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}, conds...)}}
	}
	ours := corev1.NodeCondition{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionTrue, Reason: ReasonNoCIDRAvailable, Message: "full", LastTransitionTime: t0}
	for _, tc := range []struct {
		name       string
		node       *corev1.Node
		exhausted  string
		cidr       netip.Prefix
		wantWrite  bool
		wantStatus corev1.ConditionStatus
		wantReason string
		wantSince  metav1.Time
	}{
		{name: "exhausted, no condition yet", node: node(), exhausted: "full", wantWrite: true, wantStatus: corev1.ConditionTrue, wantReason: ReasonNoCIDRAvailable, wantSince: now},
		{name: "exhausted, already said", node: node(ours), exhausted: "full"},
		{name: "exhausted, new numbers keep the transition time", node: node(ours), exhausted: "fuller", wantWrite: true, wantStatus: corev1.ConditionTrue, wantReason: ReasonNoCIDRAvailable, wantSince: t0},
		{name: "exhausted after another owner said False", node: node(corev1.NodeCondition{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated", LastTransitionTime: t0}),
			exhausted: "full", wantWrite: true, wantStatus: corev1.ConditionTrue, wantReason: ReasonNoCIDRAvailable, wantSince: now},
		{name: "CIDR assigned after ours", node: node(ours), cidr: cidr, wantWrite: true, wantStatus: corev1.ConditionFalse, wantReason: ReasonCIDRAssigned, wantSince: now},
		{name: "CIDR assigned, no condition: left alone", node: node(), cidr: cidr},
		{name: "CIDR assigned, another owner's True: left alone", node: node(corev1.NodeCondition{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionTrue, Reason: "NoRouteCreated"}), cidr: cidr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, write := networkCondition(tc.node, tc.exhausted, tc.cidr, now)
			if write != tc.wantWrite {
				t.Fatalf("write = %v, want %v (%+v)", write, tc.wantWrite, got)
			}
			if !write {
				return
			}
			if got.Type != corev1.NodeNetworkUnavailable || got.Status != tc.wantStatus || got.Reason != tc.wantReason || !got.LastTransitionTime.Equal(&tc.wantSince) {
				t.Errorf("got %+v, want %s %s since %v", got, tc.wantStatus, tc.wantReason, tc.wantSince)
			}
			upd := withCondition(tc.node, got)
			n := 0
			for _, c := range upd.Status.Conditions {
				if c.Type == corev1.NodeNetworkUnavailable {
					n++
				}
			}
			if n != 1 || len(upd.Status.Conditions) < 2 {
				t.Errorf("conditions after write: %+v", upd.Status.Conditions)
			}
		})
	}
}

func TestShortageWarning(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster string
		mask    int
		nodes   int
		want    string // substring; "" for no warning
		wantErr bool
	}{
		{name: "default /16 by /24 covers 256", nodes: 256},
		{name: "default /16 by /24: 1001 nodes", nodes: 1001, want: "holds 256 pod CIDRs of /24 but 1001 nodes are asked for: 745 nodes will get no pod CIDR"},
		{name: "tiny /23: 3 nodes", cluster: "10.42.0.0/23", mask: 24, nodes: 3, want: "cluster CIDR 10.42.0.0/23 holds 2 pod CIDRs of /24 but 3 nodes"},
		{name: "smaller node mask fits 1001", cluster: "10.42.0.0/16", mask: 26, nodes: 1001},
		{name: "ipv6 default mask", cluster: "fd00:42::/56", nodes: 257, want: "holds 256 pod CIDRs of /64"},
		{name: "mask larger than cluster", cluster: "10.42.0.0/16", mask: 12, nodes: 1, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cluster netip.Prefix
			if tc.cluster != "" {
				cluster = netip.MustParsePrefix(tc.cluster)
			}
			got, err := ShortageWarning(cluster, tc.mask, tc.nodes)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
