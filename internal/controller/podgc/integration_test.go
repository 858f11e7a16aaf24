//go:build integration

package podgc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/controller/podgc"
	"skiff.dev/skiff/internal/testserver"
)

// poll waits for check to pass (see testserver.Poll).
var poll = testserver.Poll

func boundPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:v1"}},
		},
	}
}

// Against a real API server: a deleted node's pods are marked Failed with
// the DisruptionTarget condition and removed; a pod left Terminating on a
// not-Ready node goes once the node is tainted out-of-service; pods on a
// healthy node are left alone.
func TestPodGC(t *testing.T) {
	s := testserver.Start(t, nil)
	cs := s.Client
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	for _, name := range []string{"healthy", "doomed", "dead"} {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		n, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st := corev1.ConditionTrue
		if name == "dead" {
			st = corev1.ConditionUnknown
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*corev1.Pod{boundPod("stays", "healthy"), boundPod("orphan", "doomed"), boundPod("stuck", "dead")} {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// No kubelet finishes this graceful deletion: the pod stays Terminating.
	if err := cs.CoreV1().Pods("default").Delete(ctx, "stuck", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](300)}); err != nil {
		t.Fatal(err)
	}
	if p, err := cs.CoreV1().Pods("default").Get(ctx, "stuck", metav1.GetOptions{}); err != nil || p.DeletionTimestamp == nil {
		t.Fatalf("stuck pod: %v, err %v; want it Terminating", p, err)
	}

	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=orphan"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	factory := informers.NewSharedInformerFactory(cs, 0)
	c := podgc.New(cs, factory, podgc.Options{CheckPeriod: 200 * time.Millisecond, Quarantine: time.Second})
	// probe shares the controller's caches; the test runs its passes itself.
	probe := podgc.New(cs, factory, podgc.Options{Quarantine: time.Second})
	factory.Start(ctx.Done())
	go c.Run(ctx)

	if err := cs.CoreV1().Nodes().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var sawFailed bool
	timeout := time.After(30 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-w.ResultChan():
			p, _ := ev.Object.(*corev1.Pod)
			if p == nil {
				continue
			}
			if ev.Type == watch.Deleted {
				done = true
				break
			}
			for _, c := range p.Status.Conditions {
				if p.Status.Phase == corev1.PodFailed && c.Type == corev1.DisruptionTarget && c.Reason == "DeletionByPodGC" && c.Message == "PodGC: node no longer exists" {
					sawFailed = true
				}
			}
		case <-timeout:
			t.Fatal("the deleted node's pod was not removed in 30s")
		}
	}
	if !sawFailed {
		t.Error("the orphaned pod was deleted without first being marked Failed with DisruptionTarget/DeletionByPodGC")
	}

	// Not Ready alone keeps the terminating pod (its kubelet may come back):
	// one more whole pass, over the caches that show the pod Terminating
	// and its node not Ready, leaves it.
	probe.GC(ctx)
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "stuck", metav1.GetOptions{}); err != nil {
		t.Fatalf("terminating pod on a not-Ready node without the out-of-service taint: %v", err)
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, "dead", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute})
	if _, err := cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 15*time.Second, "terminating pod on the out-of-service node removed", func() error {
		_, err := cs.CoreV1().Pods("default").Get(ctx, "stuck", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (err %v)", err)
	})
	if p, err := cs.CoreV1().Pods("default").Get(ctx, "stays", metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
		t.Errorf("pod on the healthy node: %v, err %v; want it untouched", p, err)
	}
}
