//go:build integration

package nodelifecycle_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/agent/hollow"
	"skiff.dev/skiff/internal/controller/nodelifecycle"
	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/testserver"
)

// poll waits for check to pass (see testserver.Poll).
var poll = testserver.Poll

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func findTaint(n *corev1.Node, key string, effect corev1.TaintEffect) *corev1.Taint {
	for i := range n.Spec.Taints {
		if n.Spec.Taints[i].Key == key && n.Spec.Taints[i].Effect == effect {
			return &n.Spec.Taints[i]
		}
	}
	return nil
}

func podOn(name, node string, tolerationSeconds *int64) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:v1"}},
			Tolerations: []corev1.Toleration{{
				Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
				Effect: corev1.TaintEffectNoExecute, TolerationSeconds: tolerationSeconds,
			}},
		},
	}
}

// A node whose agent stops is marked Unknown and tainted unreachable; its
// pods go not Ready, the one that tolerates the taint for 2s is evicted
// after that, the one that tolerates it forever stays; when the agent comes
// back the taints go.
func TestDeadNodeIsTaintedAndItsPodsEvicted(t *testing.T) {
	s := testserver.Start(t, nil)
	cs := s.Client
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	nodes, err := hollow.New(cs, hollow.Options{
		Count:                     3,
		LeaseRenewInterval:        300 * time.Millisecond,
		NodeStatusUpdateFrequency: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	hollowDone := make(chan error, 1)
	go func() { hollowDone <- nodes.Run(ctx) }()

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "node-controller"})
	factory := informers.NewSharedInformerFactory(cs, 0)
	ctrl := nodelifecycle.New(cs, factory, recorder, nodelifecycle.Options{
		NodeMonitorPeriod:      200 * time.Millisecond,
		NodeMonitorGracePeriod: 3 * time.Second,
		NodeEvictionRate:       100,
		Options:                queue.Options{Workers: 2},
	})
	factory.Start(ctx.Done())
	ctrlDone := make(chan struct{})
	go func() { ctrl.Run(ctx); close(ctrlDone) }()
	t.Cleanup(func() {
		cancel()
		<-ctrlDone
		<-hollowDone
		factory.Shutdown()
		broadcaster.Shutdown()
	})

	select {
	case <-nodes.Registered():
	case <-time.After(30 * time.Second):
		t.Fatal("hollow nodes did not register")
	}
	for _, p := range []*corev1.Pod{podOn("short", "hollow-0", ptr.To[int64](2)), podOn("forever", "hollow-0", nil), podOn("elsewhere", "hollow-1", ptr.To[int64](2))} {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	poll(t, 15*time.Second, "pods Ready", func() error {
		for _, name := range []string{"short", "forever", "elsewhere"} {
			p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !podReady(p) {
				return fmt.Errorf("pod %s not ready", name)
			}
		}
		return nil
	})

	stoppedAt := time.Now()
	if !nodes.Stop("hollow-0") {
		t.Fatal("hollow-0 was not running")
	}
	var noExecAdded time.Time
	poll(t, 20*time.Second, "hollow-0 Unknown and tainted unreachable", func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, "hollow-0", metav1.GetOptions{})
		if err != nil {
			return err
		}
		r := readyCondition(n)
		if r == nil || r.Status != corev1.ConditionUnknown {
			return fmt.Errorf("ready %+v", r)
		}
		if r.Reason != "NodeStatusUnknown" || r.Message != "Kubelet stopped posting node status." {
			t.Errorf("ready condition %+v", r)
		}
		for _, typ := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
			for _, c := range n.Status.Conditions {
				if c.Type == typ && c.Status != corev1.ConditionUnknown {
					t.Errorf("%s is %s", typ, c.Status)
				}
			}
		}
		if findTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule) == nil {
			return fmt.Errorf("no unreachable:NoSchedule taint: %v", n.Spec.Taints)
		}
		ne := findTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
		if ne == nil {
			return fmt.Errorf("no unreachable:NoExecute taint: %v", n.Spec.Taints)
		}
		noExecAdded = ne.TimeAdded.Time
		return nil
	})
	if d := time.Since(stoppedAt); d < 2*time.Second {
		t.Errorf("node marked Unknown %s after it stopped, before the 3s grace period", d)
	}

	poll(t, 20*time.Second, "pod short evicted", func() error {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "short", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.DeletionTimestamp == nil {
			return fmt.Errorf("not deleted yet")
		}
		var dt *corev1.PodCondition
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == corev1.DisruptionTarget {
				dt = &p.Status.Conditions[i]
			}
		}
		if dt == nil || dt.Status != corev1.ConditionTrue || dt.Reason != "DeletionByTaintManager" || dt.Message != "Taint manager: deleting due to NoExecute taint" {
			t.Errorf("DisruptionTarget %+v", dt)
		}
		if d := p.DeletionTimestamp.Sub(noExecAdded); d < time.Second {
			t.Errorf("evicted %s after the taint, want about 2s", d)
		}
		return nil
	})
	forever, err := cs.CoreV1().Pods("default").Get(ctx, "forever", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if forever.DeletionTimestamp != nil {
		t.Errorf("pod tolerating the taint forever was deleted")
	}
	if podReady(forever) {
		t.Errorf("pod on the unreachable node still Ready")
	}
	elsewhere, err := cs.CoreV1().Pods("default").Get(ctx, "elsewhere", metav1.GetOptions{})
	if err != nil || elsewhere.DeletionTimestamp != nil || !podReady(elsewhere) {
		t.Errorf("pod on a healthy node disturbed: %v %+v", err, elsewhere.Status.Conditions)
	}
	for _, name := range []string{"hollow-1", "hollow-2"} {
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(n.Spec.Taints) != 0 || readyCondition(n).Status != corev1.ConditionTrue {
			t.Errorf("healthy node %s: taints %v ready %+v", name, n.Spec.Taints, readyCondition(n))
		}
	}
	poll(t, 10*time.Second, "NodeNotReady events", func() error {
		evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, e := range evs.Items {
			seen[e.Reason+"/"+e.InvolvedObject.Name+"/"+e.Message] = true
		}
		for _, want := range []string{"NodeNotReady/forever/Node is not ready", "TaintManagerEviction/short/Marking for deletion Pod default/short"} {
			if !seen[want] {
				return fmt.Errorf("no event %s in %v", want, seen)
			}
		}
		return nil
	})

	if !nodes.Start("hollow-0") {
		t.Fatal("hollow-0 did not restart")
	}
	poll(t, 20*time.Second, "hollow-0 Ready and untainted again", func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, "hollow-0", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if r := readyCondition(n); r == nil || r.Status != corev1.ConditionTrue {
			return fmt.Errorf("ready %+v", r)
		}
		if len(n.Spec.Taints) != 0 {
			return fmt.Errorf("taints %v", n.Spec.Taints)
		}
		return nil
	})
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
