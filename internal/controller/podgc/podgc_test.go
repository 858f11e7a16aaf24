package podgc

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

type podOpt func(*corev1.Pod)

func pod(name, node string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name)},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func terminating(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Unix(100, 0)} }
func phase(ph corev1.PodPhase) podOpt {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}
func created(sec int64) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.Unix(sec, 0) }
}
func evicted(p *corev1.Pod) { p.Status.Reason = "Evicted" }

func node(name string, ready bool, taints ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}
	for _, k := range taints {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: k, Effect: corev1.TaintEffectNoExecute})
	}
	return n
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name      string
		threshold int
		pods      []*corev1.Pod
		nodes     []*corev1.Node // in the cache
		live      []*corev1.Node // found by a live GET only
		waited    time.Duration  // since the missing node was first seen
		want      []string
	}{
		{
			name:  "running pods on a Ready node stay",
			pods:  []*corev1.Pod{pod("a", "n1"), pod("b", "n1", terminating)},
			nodes: []*corev1.Node{node("n1", true)},
		},
		{
			name:  "terminating on an out-of-service not-Ready node goes; running there stays",
			pods:  []*corev1.Pod{pod("a", "n1", terminating), pod("b", "n1")},
			nodes: []*corev1.Node{node("n1", false, corev1.TaintNodeOutOfService)},
			want:  []string{"a"},
		},
		{
			name:  "out-of-service taint on a Ready node: kept",
			pods:  []*corev1.Pod{pod("a", "n1", terminating)},
			nodes: []*corev1.Node{node("n1", true, corev1.TaintNodeOutOfService)},
		},
		{
			name:  "not Ready without the taint: kept (unreachable alone is not proof)",
			pods:  []*corev1.Pod{pod("a", "n1", terminating)},
			nodes: []*corev1.Node{node("n1", false, corev1.TaintNodeUnreachable)},
		},
		{
			name:   "pods of a deleted node go after the quarantine",
			pods:   []*corev1.Pod{pod("a", "gone"), pod("b", "gone", phase(corev1.PodSucceeded)), pod("c", "n1")},
			nodes:  []*corev1.Node{node("n1", true)},
			waited: 41 * time.Second,
			want:   []string{"a", "b"},
		},
		{
			name:   "within the quarantine nothing goes",
			pods:   []*corev1.Pod{pod("a", "gone")},
			waited: 39 * time.Second,
		},
		{
			name:   "a node the cache lacks but the API has is not gone",
			pods:   []*corev1.Pod{pod("a", "late")},
			live:   []*corev1.Node{node("late", true)},
			waited: time.Minute,
		},
		{
			name: "terminating and never scheduled goes; pending unscheduled stays",
			pods: []*corev1.Pod{pod("a", "", terminating), pod("b", "", phase(corev1.PodPending))},
			want: []string{"a"},
		},
		{
			name:      "finished pods over the threshold: evicted first, then the oldest",
			threshold: 2,
			pods: []*corev1.Pod{
				pod("new", "n1", phase(corev1.PodSucceeded), created(30)),
				pod("old", "n1", phase(corev1.PodFailed), created(10)),
				pod("mid", "n1", phase(corev1.PodSucceeded), created(20)),
				pod("ev", "n1", phase(corev1.PodFailed), created(40), evicted),
				pod("run", "n1", created(1)),
			},
			nodes: []*corev1.Node{node("n1", true)},
			want:  []string{"ev", "old"},
		},
		{
			name:      "finished pods at the threshold stay",
			threshold: 2,
			pods:      []*corev1.Pod{pod("a", "n1", phase(corev1.PodSucceeded)), pod("b", "n1", phase(corev1.PodFailed))},
			nodes:     []*corev1.Node{node("n1", true)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []any
			for _, n := range append(slices.Clone(tt.nodes), tt.live...) {
				objs = append(objs, n)
			}
			client := fake.NewClientset()
			for _, o := range objs {
				if err := client.Tracker().Add(o.(*corev1.Node)); err != nil {
					t.Fatal(err)
				}
			}
			clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
			threshold := tt.threshold
			if threshold == 0 {
				threshold = -1
			}
			c := New(client, informers.NewSharedInformerFactory(client, 0), Options{Clock: clk, TerminatedPodThreshold: threshold})
			cached := map[string]*corev1.Node{}
			for _, n := range tt.nodes {
				cached[n.Name] = n
			}
			ctx := context.Background()
			// The first pass only notes the missing nodes: none of their
			// pods go before the quarantine ends.
			first := names(c.plan(ctx, tt.pods, cached))
			for _, p := range tt.pods {
				if p.Spec.NodeName != "" && cached[p.Spec.NodeName] == nil && slices.Contains(first, p.Name) {
					t.Fatalf("first pass deleted %s, whose node is only missing from the cache", p.Name)
				}
			}
			clk.Step(tt.waited)
			got := names(c.plan(ctx, tt.pods, cached))
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("deleted %v, want %v", got, tt.want)
			}
		})
	}
}

func names(ds []deletion) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.pod.Name)
	}
	return out
}

// markFailedAndDelete moves a running pod of a gone node to Failed with the
// DisruptionTarget condition, then deletes it with grace period 0.
func TestMarkFailedAndDelete(t *testing.T) {
	p := pod("a", "gone")
	client := fake.NewClientset(p)
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	c := New(client, informers.NewSharedInformerFactory(client, 0), Options{Clock: clk})
	cond := &corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "DeletionByPodGC", Message: "PodGC: node no longer exists"}
	if err := c.markFailedAndDelete(context.Background(), p, cond); err != nil {
		t.Fatal(err)
	}
	actions := client.Actions()
	if len(actions) != 2 {
		t.Fatalf("actions %v, want a status patch and a delete", actions)
	}
	patch, ok := actions[0].(k8stesting.PatchAction)
	if !ok || patch.GetSubresource() != "status" {
		t.Fatalf("first action %v, want a status patch", actions[0])
	}
	for _, want := range []string{`"phase":"Failed"`, `"type":"DisruptionTarget"`, `"reason":"DeletionByPodGC"`, `"uid":"a"`} {
		if !strings.Contains(string(patch.GetPatch()), want) {
			t.Errorf("patch %s lacks %s", patch.GetPatch(), want)
		}
	}
	del, ok := actions[1].(k8stesting.DeleteAction)
	if !ok || del.GetDeleteOptions().GracePeriodSeconds == nil || *del.GetDeleteOptions().GracePeriodSeconds != 0 {
		t.Fatalf("second action %v, want a delete with grace period 0", actions[1])
	}

	// A finished pod is deleted without a status patch.
	done := pod("b", "gone", phase(corev1.PodSucceeded))
	client = fake.NewClientset(done)
	c = New(client, informers.NewSharedInformerFactory(client, 0), Options{Clock: clk})
	if err := c.markFailedAndDelete(context.Background(), done, cond); err != nil {
		t.Fatal(err)
	}
	if a := client.Actions(); len(a) != 1 || a[0].GetVerb() != "delete" {
		t.Errorf("actions %v, want one delete", a)
	}
}
