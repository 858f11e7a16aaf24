package scheduler

import (
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// snapshotView is what a snapshot says about each listed node: its pod
// count and requested cpu.
func snapshotView(t *testing.T, s *snapshot) map[string][2]int64 {
	t.Helper()
	view := map[string][2]int64{}
	for _, n := range s.list {
		view[n.Node().Name] = [2]int64{int64(n.Pods), n.Requested.MilliCPU}
	}
	if len(view) != len(s.nodes) {
		t.Errorf("snapshot lists %d nodes, holds %d", len(view), len(s.nodes))
	}
	return view
}

func TestSnapshot(t *testing.T) {
	cpu := func(q string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)}
	}
	bound := func(name, node, q string) *corev1.Pod {
		return fakePod(name, cpu(q), func(p *corev1.Pod) { p.Spec.NodeName = node })
	}
	c, s := newNodeCache(), newSnapshot()
	steps := []struct {
		name   string
		change func(t *testing.T)
		want   map[string][2]int64
	}{
		{"empty", func(*testing.T) {}, map[string][2]int64{}},
		{"nodes come", func(*testing.T) {
			c.setNode(fakeNode("a", "4"))
			c.setNode(fakeNode("b", "4"))
		}, map[string][2]int64{"a": {0, 0}, "b": {0, 0}}},
		{"a pod is bound", func(*testing.T) { c.addPod(bound("p1", "a", "1")) }, map[string][2]int64{"a": {1, 1000}, "b": {0, 0}}},
		{"a pod is assumed", func(t *testing.T) {
			if ok, err := c.assume(framework.NewPodInfo(fakePod("p2", cpu("500m"))), "b"); !ok || err != nil {
				t.Fatalf("assume = %v, %v", ok, err)
			}
		}, map[string][2]int64{"a": {1, 1000}, "b": {1, 500}}},
		{"an assumed pod is confirmed", func(*testing.T) { c.addPod(bound("p2", "b", "500m")) }, map[string][2]int64{"a": {1, 1000}, "b": {1, 500}}},
		{"a placed pod is not assumed again", func(t *testing.T) {
			if ok, err := c.assume(framework.NewPodInfo(fakePod("p2", cpu("500m"))), "a"); ok || err != nil {
				t.Fatalf("assume = %v, %v", ok, err)
			}
		}, map[string][2]int64{"a": {1, 1000}, "b": {1, 500}}},
		{"pods of an unknown node wait for it", func(*testing.T) { c.addPod(bound("p3", "c", "2")) }, map[string][2]int64{"a": {1, 1000}, "b": {1, 500}}},
		{"the node comes", func(*testing.T) { c.setNode(fakeNode("c", "4")) }, map[string][2]int64{"a": {1, 1000}, "b": {1, 500}, "c": {1, 2000}}},
		{"a node with pods goes", func(*testing.T) { c.removeNode("a") }, map[string][2]int64{"b": {1, 500}, "c": {1, 2000}}},
		{"nothing is assumed on a node that went", func(t *testing.T) {
			if ok, err := c.assume(framework.NewPodInfo(fakePod("p4", cpu("1"))), "a"); ok || err == nil {
				t.Fatalf("assume = %v, %v", ok, err)
			}
		}, map[string][2]int64{"b": {1, 500}, "c": {1, 2000}}},
		{"a pod goes", func(*testing.T) { c.removePod("uid-p3") }, map[string][2]int64{"b": {1, 500}, "c": {0, 0}}},
		{"an assumed pod is forgotten", func(t *testing.T) {
			if ok, err := c.assume(framework.NewPodInfo(fakePod("p5", cpu("1"))), "c"); !ok || err != nil {
				t.Fatalf("assume = %v, %v", ok, err)
			}
			c.forget("uid-p5")
		}, map[string][2]int64{"b": {1, 500}, "c": {0, 0}}},
		{"the node is back", func(*testing.T) { c.setNode(fakeNode("a", "4")) }, map[string][2]int64{"a": {1, 1000}, "b": {1, 500}, "c": {0, 0}}},
	}
	for _, st := range steps {
		before := snapshotView(t, s)
		st.change(t)
		if got := snapshotView(t, s); !maps.Equal(got, before) {
			t.Fatalf("%s: the snapshot changed before it was updated: %v, was %v", st.name, got, before)
		}
		c.updateSnapshot(s)
		if got := snapshotView(t, s); !maps.Equal(got, st.want) {
			t.Fatalf("%s: snapshot %v, want %v", st.name, got, st.want)
		}
		for _, n := range s.list {
			if !slices.Contains(slices.Collect(maps.Values(s.nodes)), n) {
				t.Fatalf("%s: listed node %s is not the one held", st.name, n.Node().Name)
			}
		}
	}
}
