package netpol

import (
	"context"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/knftables"
)

// TestApplyIncremental walks the table through a series of plans: after
// every step, the table written by updates equals the table written afresh
// from the same plan, and an empty plan leaves only the fixed objects.
func TestApplyIncremental(t *testing.T) {
	ctx := context.Background()
	pods, nss := cluster()
	onlyClients := policy("prod", "clients", model, func(s *networkingv1.NetworkPolicySpec) {
		s.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: selector(client)}, {IPBlock: &networkingv1.IPBlock{CIDR: "172.16.0.0/12", Except: []string{"172.17.0.0/16"}}}},
			Ports: []networkingv1.NetworkPolicyPort{tcp(8000)},
		}}
	})
	widened := onlyClients.DeepCopy()
	widened.Spec.Ingress[0].From[1].IPBlock.Except = nil
	deny := policy("prod", "deny", nil, nil)
	egress := policy("prod", "egress", client, func(s *networkingv1.NetworkPolicySpec) {
		s.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	})
	steps := []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
		pods     int // how many of the cluster's pods exist
	}{
		{"empty", nil, len(pods)},
		{"one policy", []*networkingv1.NetworkPolicy{onlyClients}, len(pods)},
		{"its except removed", []*networkingv1.NetworkPolicy{widened}, len(pods)},
		{"a deny and an egress policy added", []*networkingv1.NetworkPolicy{widened, deny, egress}, len(pods)},
		{"the client pod gone", []*networkingv1.NetworkPolicy{widened, deny, egress}, 2},
		{"the first policy gone", []*networkingv1.NetworkPolicy{deny, egress}, len(pods)},
		{"all gone", nil, len(pods)},
	}
	nft := knftables.NewFake(knftables.IPv4Family, "t")
	a := applier{nft: nft}
	for _, st := range steps {
		plan := Compute(st.policies, pods[:st.pods], nss, node)
		if err := a.apply(ctx, plan); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		fresh := knftables.NewFake(knftables.IPv4Family, "t")
		if err := (&applier{nft: fresh}).apply(ctx, plan); err != nil {
			t.Fatalf("%s, afresh: %v", st.name, err)
		}
		if got, want := nft.Dump(), fresh.Dump(); got != want {
			t.Errorf("%s: incremental table differs from a fresh one:\n%s\nwant\n%s", st.name, got, want)
		}
	}
	dump := nft.Dump()
	for _, gone := range []string{"pol-", "-pods-", "element"} {
		if strings.Contains(dump, gone) {
			t.Errorf("after the last policy went, the table still holds %q:\n%s", gone, dump)
		}
	}
	for _, kept := range []string{"hook forward", "hook input", "ct state established,related accept", "ip daddr vmap @ingress-pods"} {
		if !strings.Contains(dump, kept) {
			t.Errorf("table lacks %q:\n%s", kept, dump)
		}
	}
	if err := deleteTable(ctx, nft); err != nil {
		t.Fatal(err)
	}
	if d := nft.Dump(); strings.TrimSpace(d) != "" {
		t.Errorf("table left after deleteTable:\n%s", d)
	}
}

// TestApplyNoChange: a plan equal to the last one writes nothing.
func TestApplyNoChange(t *testing.T) {
	ctx := context.Background()
	pods, nss := cluster()
	nft := knftables.NewFake(knftables.IPv4Family, "t")
	a := applier{nft: nft}
	plan := Compute([]*networkingv1.NetworkPolicy{policy("prod", "deny", nil, nil)}, pods, nss, node)
	if err := a.apply(ctx, plan); err != nil {
		t.Fatal(err)
	}
	before := nft.LastTransaction
	if err := a.apply(ctx, Compute([]*networkingv1.NetworkPolicy{policy("prod", "deny", nil, nil)}, pods, nss, node)); err != nil {
		t.Fatal(err)
	}
	if nft.LastTransaction != before {
		t.Errorf("an unchanged plan ran a transaction: %s", nft.LastTransaction)
	}
}
