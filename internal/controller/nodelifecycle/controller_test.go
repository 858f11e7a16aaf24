package nodelifecycle

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"skiff.dev/skiff/internal/controller/queue"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func TestEvictionTime(t *testing.T) {
	added := metav1.NewTime(t0)
	unreachable := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	noSchedule := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	tol := func(seconds *int64) corev1.Toleration {
		return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}
	}
	tests := []struct {
		name        string
		taints      []corev1.Taint
		tolerations []corev1.Toleration
		evict       bool
		at          time.Time
	}{
		{name: "no taints", evict: false},
		{name: "only NoSchedule", taints: []corev1.Taint{noSchedule}, evict: false},
		{name: "not tolerated: now", taints: []corev1.Taint{unreachable}, evict: true},
		{name: "tolerated forever", taints: []corev1.Taint{unreachable}, tolerations: []corev1.Toleration{tol(nil)}, evict: false},
		{name: "tolerated 300s", taints: []corev1.Taint{unreachable}, tolerations: []corev1.Toleration{tol(ptr.To[int64](300))}, evict: true, at: t0.Add(300 * time.Second)},
		{name: "smallest toleration wins", taints: []corev1.Taint{unreachable}, tolerations: []corev1.Toleration{tol(ptr.To[int64](300)), tol(ptr.To[int64](2))}, evict: true, at: t0.Add(2 * time.Second)},
		{name: "negative seconds: now", taints: []corev1.Taint{unreachable}, tolerations: []corev1.Toleration{tol(ptr.To[int64](-5))}, evict: true, at: t0},
		{name: "one of two taints untolerated", taints: []corev1.Taint{unreachable, {Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoExecute}},
			tolerations: []corev1.Toleration{tol(nil)}, evict: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tt.tolerations}}
			at, evict := evictionTime(logr.Discard(), pod, tt.taints, t0.Add(time.Second))
			if evict != tt.evict || !at.Equal(tt.at) {
				t.Errorf("evictionTime = %v, %v; want %v, %v", at, evict, tt.at, tt.evict)
			}
		})
	}
}

type fixture struct {
	ctrl   *Controller
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	events *record.FakeRecorder
	leases cache.Indexer
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(t0)
	rec := record.NewFakeRecorder(100)
	c := New(client, factory, rec, Options{
		NodeMonitorGracePeriod: 40 * time.Second, NodeEvictionRate: 1000,
		Clock: clk, Options: queue.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
	})
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Node:
			err = factory.Core().V1().Nodes().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			err = factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *coordinationv1.Lease:
			err = factory.Coordination().V1().Leases().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{ctrl: c, client: client, clock: clk, events: rec, leases: factory.Coordination().V1().Leases().Informer().GetIndexer()}
}

func testNode(name string, ready corev1.ConditionStatus, heartbeat time.Time) *corev1.Node {
	hb := metav1.NewTime(heartbeat)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: "uid-" + "name", CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: ready, Reason: "KubeletReady", LastHeartbeatTime: hb, LastTransitionTime: hb},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: hb, LastTransitionTime: hb},
		}},
	}
}

func nodeLease(name string, renew time.Time) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: nodeLeaseNamespace},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name), RenewTime: &metav1.MicroTime{Time: renew}},
	}
}

func TestTryUpdateNodeHealth(t *testing.T) {
	tests := []struct {
		name      string
		node      *corev1.Node
		lease     *coordinationv1.Lease
		advance   time.Duration
		renewAt   *time.Duration // lease renewed at this offset (between the passes)
		wantReady corev1.ConditionStatus
		reason    string
	}{
		{name: "fresh heartbeat", node: testNode("a", corev1.ConditionTrue, t0), advance: 30 * time.Second, wantReady: corev1.ConditionTrue, reason: "KubeletReady"},
		{name: "silent past the grace period", node: testNode("a", corev1.ConditionTrue, t0), advance: 41 * time.Second, wantReady: corev1.ConditionUnknown, reason: "NodeStatusUnknown"},
		{name: "lease renewals keep it alive", node: testNode("a", corev1.ConditionTrue, t0), lease: nodeLease("a", t0),
			advance: 41 * time.Second, renewAt: ptr.To(30 * time.Second), wantReady: corev1.ConditionTrue, reason: "KubeletReady"},
		{name: "never reported: startup grace", node: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a", CreationTimestamp: metav1.NewTime(t0)}},
			advance: 61 * time.Second, wantReady: corev1.ConditionUnknown, reason: "NodeStatusNeverUpdated"},
		{name: "never reported, within startup grace", node: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a", CreationTimestamp: metav1.NewTime(t0)}},
			advance: 50 * time.Second, wantReady: "", reason: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []runtime.Object{tt.node}
			if tt.lease != nil {
				objs = append(objs, tt.lease)
			}
			f := newFixture(t, objs...)
			ctx := context.Background()
			if _, _, _, err := f.ctrl.tryUpdateNodeHealth(ctx, tt.node); err != nil {
				t.Fatal(err)
			}
			if tt.renewAt != nil {
				f.clock.Step(*tt.renewAt)
				if err := f.leases.Update(nodeLease(tt.node.Name, t0.Add(*tt.renewAt))); err != nil {
					t.Fatal(err)
				}
				if _, _, _, err := f.ctrl.tryUpdateNodeHealth(ctx, tt.node); err != nil {
					t.Fatal(err)
				}
				f.clock.Step(tt.advance - *tt.renewAt)
			} else {
				f.clock.Step(tt.advance)
			}
			_, current, updated, err := f.ctrl.tryUpdateNodeHealth(ctx, tt.node)
			if err != nil {
				t.Fatal(err)
			}
			got := corev1.NodeCondition{}
			if current != nil {
				got = *current
			}
			if got.Status != tt.wantReady || got.Reason != tt.reason {
				t.Errorf("Ready %s/%s, want %s/%s", got.Status, got.Reason, tt.wantReady, tt.reason)
			}
			if tt.wantReady == corev1.ConditionUnknown {
				if updated == nil {
					t.Fatal("no status written")
				}
				for _, c := range updated.Status.Conditions {
					if c.Status != corev1.ConditionUnknown {
						t.Errorf("condition %s is %s", c.Type, c.Status)
					}
				}
				if tt.reason == "NodeStatusUnknown" && nodeCondition(&updated.Status, corev1.NodeReady).Message != "Kubelet stopped posting node status." {
					t.Errorf("message %q", nodeCondition(&updated.Status, corev1.NodeReady).Message)
				}
			} else if updated != nil {
				t.Errorf("status written for a healthy node")
			}
		})
	}
}

func TestSyncTaints(t *testing.T) {
	old := metav1.NewTime(t0.Add(-time.Minute))
	tests := []struct {
		name   string
		node   *corev1.Node
		others []*corev1.Node // so that the zone is not fully disrupted
		want   []corev1.Taint
	}{
		{name: "ready: none", node: testNode("a", corev1.ConditionTrue, t0), want: nil},
		{name: "unknown: unreachable", node: testNode("a", corev1.ConditionUnknown, t0), others: []*corev1.Node{testNode("b", corev1.ConditionTrue, t0)},
			want: []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}, {Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}}},
		{name: "false: not-ready", node: testNode("a", corev1.ConditionFalse, t0), others: []*corev1.Node{testNode("b", corev1.ConditionTrue, t0)},
			want: []corev1.Taint{{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}, {Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}}},
		{name: "all nodes down: no NoExecute", node: testNode("a", corev1.ConditionUnknown, t0), others: []*corev1.Node{testNode("b", corev1.ConditionUnknown, t0)},
			want: []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}}},
		{name: "back to ready: managed taints go, others stay", node: func() *corev1.Node {
			n := testNode("a", corev1.ConditionTrue, t0)
			n.Spec.Taints = []corev1.Taint{
				{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
				{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule, TimeAdded: &old},
				{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &old},
			}
			return n
		}(), want: []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}},
		{name: "cordoned and memory pressure", node: func() *corev1.Node {
			n := testNode("a", corev1.ConditionTrue, t0)
			n.Spec.Unschedulable = true
			n.Status.Conditions[1].Status = corev1.ConditionTrue
			return n
		}(), want: []corev1.Taint{{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule}, {Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}}},
		{name: "network unavailable (no pod CIDR): kept off", node: func() *corev1.Node {
			n := testNode("a", corev1.ConditionTrue, t0)
			n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionTrue, Reason: "NoCIDRAvailable"})
			return n
		}(), want: []corev1.Taint{{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule}}},
		{name: "network available again: taint goes", node: func() *corev1.Node {
			n := testNode("a", corev1.ConditionTrue, t0)
			n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "CIDRAssigned"})
			n.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule, TimeAdded: &old}}
			return n
		}(), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []runtime.Object{tt.node}
			all := []*corev1.Node{tt.node}
			for _, o := range tt.others {
				objs = append(objs, o)
				all = append(all, o)
			}
			f := newFixture(t, objs...)
			f.ctrl.updateZoneStates(all)
			if _, err := f.ctrl.syncTaints(context.Background(), tt.node.Name); err != nil {
				t.Fatal(err)
			}
			got, err := f.client.CoreV1().Nodes().Get(context.Background(), tt.node.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Spec.Taints) != len(tt.want) {
				t.Fatalf("taints %v, want %v", got.Spec.Taints, tt.want)
			}
			for i, w := range tt.want {
				g := got.Spec.Taints[i]
				if g.Key != w.Key || g.Effect != w.Effect || g.Value != w.Value {
					t.Errorf("taint %d = %v, want %v", i, g, w)
				}
				if g.Effect == corev1.TaintEffectNoExecute && g.TimeAdded == nil {
					t.Errorf("NoExecute taint without timeAdded")
				}
			}
		})
	}
}
