package proxy

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/knftables"
)

// applier writes plans into the table, keeping what it last wrote so that an
// update touches only the objects that changed.
type applier struct {
	nft     knftables.Interface
	base    []knftables.Object
	applied map[serviceKey]servicePlan
}

func newApplier(nft knftables.Interface, base []knftables.Object) *applier {
	return &applier{nft: nft, base: base, applied: map[serviceKey]servicePlan{}}
}

// phases orders a transaction: chains exist before rules jump to them, and
// rules that reference chains or sets go before those are deleted.
type phases struct {
	delElems, addChains, addSets, addRules, addElems, flushOld, delChains, delSets []func(*knftables.Transaction)
}

func (ph *phases) run(tx *knftables.Transaction) {
	for _, p := range [][]func(*knftables.Transaction){ph.delElems, ph.addChains, ph.addSets, ph.addRules, ph.addElems, ph.flushOld, ph.delChains, ph.delSets} {
		for _, f := range p {
			f(tx)
		}
	}
}

func elementObj(e elemPlan) *knftables.Element {
	if e.Value == "" {
		return &knftables.Element{Set: e.Map, Key: e.Key}
	}
	return &knftables.Element{Map: e.Map, Key: e.Key, Value: []string{e.Value}}
}

func setObj(s setPlan) *knftables.Set {
	t := time.Duration(s.Timeout) * time.Second
	return &knftables.Set{Name: s.Name, Type: "ipv4_addr", Flags: []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag}, Timeout: &t}
}

// sync writes the whole table. fresh replaces any table of the same name
// (adoption at start: one transaction, so the kernel never holds two
// copies nor none); otherwise objects are rewritten in place and those no
// plan names are removed (periodic resync; affinity state survives).
func (a *applier) sync(ctx context.Context, plans map[serviceKey]servicePlan) error {
	return a.syncAll(ctx, plans, false)
}

func (a *applier) syncAll(ctx context.Context, plans map[serviceKey]servicePlan, fresh bool) error {
	existingChains, existingSets := map[string]bool{}, map[string]bool{}
	if !fresh {
		for typ, into := range map[string]map[string]bool{"chain": existingChains, "set": existingSets} {
			names, err := a.nft.List(ctx, typ)
			if err != nil && !knftables.IsNotFound(err) {
				return fmt.Errorf("listing %ss: %w", typ, err)
			}
			for _, n := range names {
				into[n] = true
			}
		}
	}
	tx := a.nft.NewTransaction()
	if fresh {
		tx.Add(&knftables.Table{})
		tx.Delete(&knftables.Table{})
	}
	wantChains, wantSets := map[string]bool{}, map[string]bool{}
	var ph phases
	for _, o := range a.base {
		switch o := o.(type) {
		case *knftables.Table:
			ph.addChains = append(ph.addChains, func(tx *knftables.Transaction) { tx.Add(o) })
		case *knftables.Chain:
			wantChains[o.Name] = true
			ph.addChains = append(ph.addChains, func(tx *knftables.Transaction) { tx.Add(o); tx.Flush(o) })
		case *knftables.Set:
			wantSets[o.Name] = true
			ph.addChains = append(ph.addChains, func(tx *knftables.Transaction) { tx.Add(o); tx.Flush(o) })
		case *knftables.Map:
			ph.addChains = append(ph.addChains, func(tx *knftables.Transaction) { tx.Add(o); tx.Flush(o) })
		case *knftables.Rule:
			ph.addRules = append(ph.addRules, func(tx *knftables.Transaction) { tx.Add(o) })
		default:
			ph.addElems = append(ph.addElems, func(tx *knftables.Transaction) { tx.Add(o) })
		}
	}
	for _, k := range sortedServiceKeys(plans) {
		p := plans[k]
		for _, c := range p.Chains {
			wantChains[c.Name] = true
			ph.addChain(c, !fresh)
		}
		for _, s := range p.Sets {
			wantSets[s.Name] = true
			ph.addSets = append(ph.addSets, func(tx *knftables.Transaction) { tx.Add(setObj(s)) })
		}
		for _, e := range p.Elements {
			ph.addElems = append(ph.addElems, func(tx *knftables.Transaction) { tx.Add(elementObj(e)) })
		}
	}
	for _, n := range sortedKeys(existingChains) {
		if !wantChains[n] {
			ch := &knftables.Chain{Name: n}
			ph.flushOld = append(ph.flushOld, func(tx *knftables.Transaction) { tx.Flush(ch) })
			ph.delChains = append(ph.delChains, func(tx *knftables.Transaction) { tx.Delete(ch) })
		}
	}
	for _, n := range sortedKeys(existingSets) {
		if !wantSets[n] {
			s := &knftables.Set{Name: n}
			ph.delSets = append(ph.delSets, func(tx *knftables.Transaction) { tx.Delete(s) })
		}
	}
	ph.run(tx)
	if err := a.nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("nftables full sync: %w", err)
	}
	a.applied = make(map[serviceKey]servicePlan, len(plans))
	for k, p := range plans {
		a.applied[k] = p
	}
	return nil
}

func (ph *phases) addChain(c chainPlan, flush bool) {
	ch := &knftables.Chain{Name: c.Name}
	ph.addChains = append(ph.addChains, func(tx *knftables.Transaction) {
		tx.Add(ch)
		if flush {
			tx.Flush(ch)
		}
	})
	for _, r := range c.Rules {
		ph.addRules = append(ph.addRules, func(tx *knftables.Transaction) { tx.Add(&knftables.Rule{Chain: c.Name, Rule: r}) })
	}
}

// update writes the changed Services only: changes maps a Service to its
// new plan, or to nil when it is gone. Chains whose rules did not change
// are left alone.
func (a *applier) update(ctx context.Context, changes map[serviceKey]*servicePlan) error {
	var ph phases
	for _, k := range sortedServiceKeys(changes) {
		old := a.applied[k]
		var nw servicePlan
		if p := changes[k]; p != nil {
			nw = *p
		}
		oldChains, newChains := old.chainMap(), nw.chainMap()
		oldElems, newElems := old.elemMap(), nw.elemMap()
		for _, id := range sortedKeys(oldElems) {
			if ne, ok := newElems[id]; !ok || ne.Value != oldElems[id].Value {
				e := oldElems[id]
				ph.delElems = append(ph.delElems, func(tx *knftables.Transaction) { tx.Delete(elementObj(e)) })
			}
		}
		for _, c := range nw.Chains {
			oc, existed := oldChains[c.Name]
			if existed && equalStrings(oc.Rules, c.Rules) {
				continue
			}
			ph.addChain(c, existed)
		}
		oldSets := map[string]bool{}
		for _, s := range old.Sets {
			oldSets[s.Name] = true
		}
		newSets := map[string]bool{}
		for _, s := range nw.Sets {
			newSets[s.Name] = true
			if !oldSets[s.Name] {
				ph.addSets = append(ph.addSets, func(tx *knftables.Transaction) { tx.Add(setObj(s)) })
			}
		}
		for _, id := range sortedKeys(newElems) {
			if oe, ok := oldElems[id]; !ok || oe.Value != newElems[id].Value {
				e := newElems[id]
				ph.addElems = append(ph.addElems, func(tx *knftables.Transaction) { tx.Add(elementObj(e)) })
			}
		}
		for _, c := range old.Chains {
			if _, ok := newChains[c.Name]; !ok {
				ch := &knftables.Chain{Name: c.Name}
				ph.flushOld = append(ph.flushOld, func(tx *knftables.Transaction) { tx.Flush(ch) })
				ph.delChains = append(ph.delChains, func(tx *knftables.Transaction) { tx.Delete(ch) })
			}
		}
		for _, s := range old.Sets {
			if !newSets[s.Name] {
				set := &knftables.Set{Name: s.Name}
				ph.delSets = append(ph.delSets, func(tx *knftables.Transaction) { tx.Delete(set) })
			}
		}
	}
	tx := a.nft.NewTransaction()
	ph.run(tx)
	if tx.NumOperations() > 0 {
		if err := a.nft.Run(ctx, tx); err != nil {
			return fmt.Errorf("nftables update of %d services: %w", len(changes), err)
		}
	}
	for k, p := range changes {
		if p == nil {
			delete(a.applied, k)
		} else {
			a.applied[k] = *p
		}
	}
	return nil
}

// deleteTable removes the proxy's table, if there is one.
func deleteTable(ctx context.Context, nft knftables.Interface) error {
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{})
	tx.Delete(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("deleting the nftables table: %w", err)
	}
	return nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sortedServiceKeys[V any](m map[serviceKey]V) []serviceKey {
	out := make([]serviceKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortKeys(out)
	return out
}
