package garbagecollector

import (
	"sort"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

var cmKind = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}

type recorded struct{ deletes, orphans []string }

func (r *recorded) graph() *graph {
	return newGraph(
		func(ref objectRef) { r.deletes = append(r.deletes, ref.Name) },
		func(ref objectRef) { r.orphans = append(r.orphans, ref.Name) })
}

func obj(name string, mutate ...func(*metav1.ObjectMeta)) *metav1.ObjectMeta {
	m := &metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name)}
	for _, f := range mutate {
		f(m)
	}
	return m
}

func ownedBy(owner string, block bool) func(*metav1.ObjectMeta) {
	return func(m *metav1.ObjectMeta) {
		m.OwnerReferences = append(m.OwnerReferences, metav1.OwnerReference{
			APIVersion: "v1", Kind: "ConfigMap", Name: owner, UID: types.UID(owner), BlockOwnerDeletion: &block})
	}
}

func deleting(finalizers ...string) func(*metav1.ObjectMeta) {
	return func(m *metav1.ObjectMeta) {
		now := metav1.Now()
		m.DeletionTimestamp = &now
		m.Finalizers = finalizers
	}
}

func TestGraph(t *testing.T) {
	type step struct {
		observe *metav1.ObjectMeta
		forget  string
	}
	tests := []struct {
		name        string
		steps       []step
		wantDeletes []string
		wantOrphans []string
		wantNodes   []string
	}{{
		name:        "an unseen owner becomes a virtual node to verify",
		steps:       []step{{observe: obj("dep", ownedBy("owner", false))}},
		wantDeletes: []string{"owner"},
		wantNodes:   []string{"dep", "owner"},
	}, {
		name:      "an owner seen first is linked without checks",
		steps:     []step{{observe: obj("owner")}, {observe: obj("dep", ownedBy("owner", false))}},
		wantNodes: []string{"dep", "owner"},
	}, {
		name:        "a deleted owner queues its dependents",
		steps:       []step{{observe: obj("owner")}, {observe: obj("dep", ownedBy("owner", false))}, {forget: "owner"}},
		wantDeletes: []string{"dep"},
		wantNodes:   []string{"dep"},
	}, {
		name: "foreground deletion queues the owner and its dependents",
		steps: []step{{observe: obj("owner")}, {observe: obj("dep", ownedBy("owner", true))},
			{observe: obj("owner", deleting(metav1.FinalizerDeleteDependents))}},
		wantDeletes: []string{"dep", "owner"},
		wantNodes:   []string{"dep", "owner"},
	}, {
		name: "a dependent leaving a foreground owner requeues the owner",
		steps: []step{{observe: obj("owner", deleting(metav1.FinalizerDeleteDependents))},
			{observe: obj("dep", ownedBy("owner", true))}, {observe: obj("dep")}},
		wantDeletes: []string{"owner", "owner"},
		wantNodes:   []string{"dep", "owner"},
	}, {
		name:        "the orphan finalizer queues the owner for orphaning",
		steps:       []step{{observe: obj("owner", deleting(metav1.FinalizerOrphanDependents))}},
		wantOrphans: []string{"owner"},
		wantNodes:   []string{"owner"},
	}, {
		name: "a virtual owner no longer referenced is dropped",
		steps: []step{{observe: obj("dep", ownedBy("owner", false))},
			{observe: obj("dep")}},
		wantDeletes: []string{"owner"},
		wantNodes:   []string{"dep"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recorded
			g := r.graph()
			for _, s := range tt.steps {
				if s.observe != nil {
					g.observe(cmKind, s.observe)
				} else {
					g.forget(types.UID(s.forget), false)
				}
			}
			sort.Strings(r.deletes)
			if !equal(r.deletes, tt.wantDeletes) {
				t.Errorf("delete queue got %v, want %v", r.deletes, tt.wantDeletes)
			}
			if !equal(r.orphans, tt.wantOrphans) {
				t.Errorf("orphan queue got %v, want %v", r.orphans, tt.wantOrphans)
			}
			var nodes []string
			for uid := range g.nodes {
				nodes = append(nodes, string(uid))
			}
			sort.Strings(nodes)
			if !equal(nodes, tt.wantNodes) {
				t.Errorf("nodes got %v, want %v", nodes, tt.wantNodes)
			}
		})
	}
}

func TestGraphGetReportsBlockingDependents(t *testing.T) {
	var r recorded
	g := r.graph()
	g.observe(cmKind, obj("owner"))
	g.observe(cmKind, obj("blocker", ownedBy("owner", true)))
	g.observe(cmKind, obj("other", ownedBy("owner", false)))
	v, ok := g.get("owner")
	if !ok {
		t.Fatal("owner not in graph")
	}
	blocking := map[string]bool{}
	for _, d := range v.dependents {
		blocking[d.ref.Name] = d.blocking
	}
	if len(blocking) != 2 || !blocking["blocker"] || blocking["other"] {
		t.Errorf("dependents %v, want blocker blocking and other not", blocking)
	}
}

func equal(a, b []string) bool {
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
