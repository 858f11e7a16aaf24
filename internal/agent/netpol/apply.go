package netpol

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"sigs.k8s.io/knftables"
)

// baseObjects are the table's fixed objects: the base chains and the two
// verdict maps of isolated pods.
func baseObjects() []knftables.Object {
	est := "ct state established,related accept"
	objs := []knftables.Object{
		&knftables.Table{Comment: knftables.PtrTo("skiff NetworkPolicy")},
		&knftables.Map{Name: ingressPodsMap, Type: "ipv4_addr : verdict"},
		&knftables.Map{Name: egressPodsMap, Type: "ipv4_addr : verdict"},
	}
	for _, c := range []struct {
		name string
		hook knftables.BaseChainHook
		vmap string
	}{
		{egressChain, knftables.ForwardHook, "ip saddr vmap @" + egressPodsMap},
		{ingressChain, knftables.ForwardHook, "ip daddr vmap @" + ingressPodsMap},
		{egressHostChain, knftables.InputHook, "ip saddr vmap @" + egressPodsMap},
	} {
		objs = append(objs,
			&knftables.Chain{Name: c.name, Type: knftables.PtrTo(knftables.FilterType), Hook: knftables.PtrTo(c.hook), Priority: knftables.PtrTo(knftables.FilterPriority)},
			&knftables.Rule{Chain: c.name, Rule: est},
			&knftables.Rule{Chain: c.name, Rule: c.vmap},
		)
	}
	return objs
}

// applier writes plans, keeping the last one written so that an update
// touches only what changed.
type applier struct {
	nft     knftables.Interface
	applied *Plan // nil: the table is to be written afresh
}

// apply makes the table hold plan: the first time (and after an error)
// it replaces any table of the same name in one transaction; afterwards it
// writes the difference from the last plan.
func (a *applier) apply(ctx context.Context, plan Plan) error {
	tx := a.nft.NewTransaction()
	old := a.applied
	if old == nil {
		tx.Add(&knftables.Table{})
		tx.Delete(&knftables.Table{})
		for _, o := range baseObjects() {
			tx.Add(o)
		}
		old = &Plan{}
	}
	writeDiff(tx, *old, plan)
	if tx.NumOperations() > 0 {
		if err := a.nft.Run(ctx, tx); err != nil {
			a.applied = nil
			return fmt.Errorf("nftables: %w", err)
		}
	}
	a.applied = &plan
	return nil
}

// writeDiff adds to tx what turns the table from old into plan, in an
// order the kernel accepts: chains and sets exist before rules and map
// elements refer to them, and references go before what they name.
func writeDiff(tx *knftables.Transaction, old, plan Plan) {
	// Map elements that go or change.
	for _, m := range []struct {
		name     string
		old, new map[string]string
	}{{ingressPodsMap, old.IngressPods, plan.IngressPods}, {egressPodsMap, old.EgressPods, plan.EgressPods}} {
		for _, k := range slices.Sorted(maps.Keys(m.old)) {
			if v, ok := m.new[k]; !ok || v != m.old[k] {
				tx.Delete(&knftables.Element{Map: m.name, Key: []string{k}})
			}
		}
	}
	// New chains and sets.
	for _, name := range slices.Sorted(maps.Keys(plan.Chains)) {
		if _, ok := old.Chains[name]; !ok {
			tx.Add(&knftables.Chain{Name: name})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(plan.Sets)) {
		s := plan.Sets[name]
		o, ok := old.Sets[name] // a name's Interval never changes (plan.go)
		if !ok {
			set := &knftables.Set{Name: name, Type: "ipv4_addr"}
			if s.Interval {
				set.Flags = []knftables.SetFlag{knftables.IntervalFlag}
			}
			tx.Add(set)
			o = Set{}
		}
		have := map[string]bool{}
		for _, e := range o.Elements {
			have[e] = true
		}
		want := map[string]bool{}
		for _, e := range s.Elements {
			want[e] = true
		}
		for _, e := range o.Elements {
			if !want[e] {
				tx.Delete(&knftables.Element{Set: name, Key: []string{e}})
			}
		}
		for _, e := range s.Elements {
			if !have[e] {
				tx.Add(&knftables.Element{Set: name, Key: []string{e}})
			}
		}
	}
	// Rules of new and changed chains.
	for _, name := range slices.Sorted(maps.Keys(plan.Chains)) {
		rules, existed := old.Chains[name]
		if existed && slices.Equal(rules, plan.Chains[name]) {
			continue
		}
		if existed {
			tx.Flush(&knftables.Chain{Name: name})
		}
		for _, r := range plan.Chains[name] {
			tx.Add(&knftables.Rule{Chain: name, Rule: r})
		}
	}
	// Map elements that come or change.
	for _, m := range []struct {
		name     string
		old, new map[string]string
	}{{ingressPodsMap, old.IngressPods, plan.IngressPods}, {egressPodsMap, old.EgressPods, plan.EgressPods}} {
		for _, k := range slices.Sorted(maps.Keys(m.new)) {
			if v, ok := m.old[k]; !ok || v != m.new[k] {
				tx.Add(&knftables.Element{Map: m.name, Key: []string{k}, Value: []string{m.new[k]}})
			}
		}
	}
	// Chains and sets no longer wanted: empty the chains first (they may
	// jump to each other), then delete.
	var gone []string
	for _, name := range slices.Sorted(maps.Keys(old.Chains)) {
		if _, ok := plan.Chains[name]; !ok {
			gone = append(gone, name)
			tx.Flush(&knftables.Chain{Name: name})
		}
	}
	for _, name := range gone {
		tx.Delete(&knftables.Chain{Name: name})
	}
	for _, name := range slices.Sorted(maps.Keys(old.Sets)) {
		if _, ok := plan.Sets[name]; !ok {
			tx.Delete(&knftables.Set{Name: name})
		}
	}
}

// deleteTable removes the table, if there is one.
func deleteTable(ctx context.Context, nft knftables.Interface) error {
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{})
	tx.Delete(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("deleting the nftables table: %w", err)
	}
	return nil
}
