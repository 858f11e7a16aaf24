//go:build integration

package nodeipam_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"skiff.dev/skiff/internal/agent/hollow"
	"skiff.dev/skiff/internal/controller/nodeipam"
	"skiff.dev/skiff/internal/controller/nodelifecycle"
	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/scheduler/framework"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
	"skiff.dev/skiff/internal/testserver"
)

// Three nodes (with their agents reporting status) in a cluster CIDR of two
// /24s: the one left without a pod CIDR gets the CIDRNotAvailable event,
// NetworkUnavailable True (which its agent keeps), the network-unavailable
// NoSchedule taint, and the scheduler's taint filter turns a pod away from
// it. When a node goes, it gets the freed CIDR and all of that is undone.
func TestExhaustedClusterCIDRKeepsPodsOff(t *testing.T) {
	s := testserver.Start(t, nil)
	cs := s.Client
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	nodes, err := hollow.New(cs, hollow.Options{Count: 3, WaitForPodCIDR: true, LeaseRenewInterval: 300 * time.Millisecond, NodeStatusUpdateFrequency: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hollowDone := make(chan error, 1)
	go func() { hollowDone <- nodes.Run(ctx) }()
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	factory := informers.NewSharedInformerFactory(cs, 0)
	ipam, err := nodeipam.New(cs, factory, broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "node-ipam-controller"}),
		nodeipam.Options{ClusterCIDR: netip.MustParsePrefix("10.42.0.0/23"), NodeCIDRMaskSize: 24, Options: queue.Options{Workers: 2}})
	if err != nil {
		t.Fatal(err)
	}
	lifecycle := nodelifecycle.New(cs, factory, broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "node-controller"}),
		nodelifecycle.Options{NodeMonitorPeriod: 200 * time.Millisecond, Options: queue.Options{Workers: 2}})
	factory.Start(ctx.Done())
	ipamDone, lifecycleDone := make(chan struct{}), make(chan struct{})
	go func() { ipam.Run(ctx); close(ipamDone) }()
	go func() { lifecycle.Run(ctx); close(lifecycleDone) }()
	t.Cleanup(func() {
		cancel()
		<-ipamDone
		<-lifecycleDone
		<-hollowDone
		factory.Shutdown()
		broadcaster.Shutdown()
	})

	// The node left out.
	var left string
	poll(t, "two nodes with a pod CIDR, one without", func() error {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		with, without := 0, []string{}
		for _, n := range list.Items {
			if n.Spec.PodCIDR != "" {
				with++
			} else {
				without = append(without, n.Name)
			}
		}
		if with != 2 || len(without) != 1 {
			return fmt.Errorf("%d with, without: %v", with, without)
		}
		left = without[0]
		return nil
	})

	poll(t, "CIDRNotAvailable event on "+left, func() error {
		events, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Kind == "Node" && e.InvolvedObject.Name == left && e.Reason == nodeipam.ReasonCIDRNotAvailable {
				return nil
			}
		}
		return fmt.Errorf("none in %d events", len(events.Items))
	})
	var tainted *corev1.Node
	poll(t, "NetworkUnavailable and its taint on "+left, func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, left, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if c := condition(n, corev1.NodeNetworkUnavailable); c == nil || c.Status != corev1.ConditionTrue || c.Reason != nodeipam.ReasonNoCIDRAvailable {
			return fmt.Errorf("condition %+v", c)
		}
		if !hasTaint(n, corev1.TaintNodeNetworkUnavailable) {
			return fmt.Errorf("taints %v", n.Spec.Taints)
		}
		tainted = n
		return nil
	})
	// The node's agent keeps renewing its lease and reporting status; the
	// condition stays.
	renewed := func() (time.Time, error) {
		l, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, left, metav1.GetOptions{})
		if err != nil || l.Spec.RenewTime == nil {
			return time.Time{}, fmt.Errorf("lease of %s: %v", left, err)
		}
		return l.Spec.RenewTime.Time, nil
	}
	since, err := renewed()
	if err != nil {
		t.Fatal(err)
	}
	poll(t, "two lease renewals of "+left, func() error {
		r, err := renewed()
		if err != nil {
			return err
		}
		if !r.After(since.Add(300 * time.Millisecond)) {
			return fmt.Errorf("renewed at %v", r)
		}
		return nil
	})
	if n, err := cs.CoreV1().Nodes().Get(ctx, left, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	} else if c := condition(n, corev1.NodeNetworkUnavailable); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("NetworkUnavailable went: %+v", n.Status.Conditions)
	}

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "model", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "model"}}}}
	filter := plugins.TaintToleration{}
	if st := filter.Filter(ctx, nil, framework.NewPodInfo(pod), framework.NewNodeInfo(tainted)); st.IsSuccess() {
		t.Errorf("the scheduler's taint filter accepts node %s without a pod CIDR", left)
	}

	// A node goes: the left-out one gets its CIDR and is usable again.
	var gone string
	for _, name := range []string{"hollow-0", "hollow-1", "hollow-2"} {
		if name != left {
			gone = name
			break
		}
	}
	if err := cs.CoreV1().Nodes().Delete(ctx, gone, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, left+" gets a pod CIDR, NetworkUnavailable False and no taint", func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, left, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Spec.PodCIDR == "" {
			return fmt.Errorf("no pod CIDR yet")
		}
		if c := condition(n, corev1.NodeNetworkUnavailable); c == nil || c.Status != corev1.ConditionFalse || c.Reason != nodeipam.ReasonCIDRAssigned {
			return fmt.Errorf("condition %+v", c)
		}
		if hasTaint(n, corev1.TaintNodeNetworkUnavailable) {
			return fmt.Errorf("still tainted: %v", n.Spec.Taints)
		}
		return nil
	})
}

func condition(n *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func hasTaint(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == corev1.TaintEffectNoSchedule {
			return true
		}
	}
	return false
}
