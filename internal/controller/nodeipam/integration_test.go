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
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"skiff.dev/skiff/internal/controller/nodeipam"
	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/testserver"
)

func poll(t *testing.T, what string, check func() error) {
	t.Helper()
	testserver.Poll(t, 30*time.Second, what, check)
}

// startController runs a controller over cs until the returned stop is
// called.
func startController(t *testing.T, cs kubernetes.Interface, cluster string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(cs, 0)
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	c, err := nodeipam.New(cs, factory, b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "node-ipam-controller"}),
		nodeipam.Options{ClusterCIDR: netip.MustParsePrefix(cluster), Options: queue.Options{Workers: 2}})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		factory.Shutdown()
		b.Shutdown()
	}
	t.Cleanup(stop)
	return stop
}

func createNode(t *testing.T, cs kubernetes.Interface, name, cidr string) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if cidr != "" {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = cidr, []string{cidr}
	}
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// podCIDRs waits until every named node has a pod CIDR and returns them.
func podCIDRs(t *testing.T, cs kubernetes.Interface, names ...string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, name := range names {
		poll(t, "pod CIDR of "+name, func() error {
			n, err := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if n.Spec.PodCIDR == "" || len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
				return fmt.Errorf("podCIDR %q podCIDRs %v", n.Spec.PodCIDR, n.Spec.PodCIDRs)
			}
			got[name] = n.Spec.PodCIDR
			return nil
		})
	}
	return got
}

func assertDistinct(t *testing.T, cidrs map[string]string) {
	t.Helper()
	seen := map[string]string{}
	for node, c := range cidrs {
		if other, dup := seen[c]; dup {
			t.Errorf("nodes %s and %s both hold %s", node, other, c)
		}
		seen[c] = node
		if !netip.MustParsePrefix("10.42.0.0/22").Contains(netip.MustParsePrefix(c).Addr()) {
			t.Errorf("node %s got %s outside the cluster CIDR", node, c)
		}
	}
}

// Nodes get distinct /24s of the cluster CIDR; one that registered with a
// CIDR keeps it; when the range is exhausted the node gets a
// CIDRNotAvailable event, and a CIDR freed by a deleted node goes to it; a
// restarted controller rebuilds what is taken from the nodes.
func TestPodCIDRAllocation(t *testing.T) {
	s := testserver.Start(t, nil)
	cs := s.Client
	ctx := context.Background()
	createNode(t, cs, "a", "10.42.1.0/24")
	createNode(t, cs, "b", "")
	stop := startController(t, cs, "10.42.0.0/22")
	createNode(t, cs, "c", "")
	createNode(t, cs, "d", "")
	got := podCIDRs(t, cs, "a", "b", "c", "d")
	if got["a"] != "10.42.1.0/24" {
		t.Errorf("node a's CIDR changed to %s", got["a"])
	}
	assertDistinct(t, got)

	// The range is full: e waits, with an event.
	createNode(t, cs, "e", "")
	poll(t, "CIDRNotAvailable event", func() error {
		events, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Kind == "Node" && e.InvolvedObject.Name == "e" && e.Reason == nodeipam.ReasonCIDRNotAvailable {
				return nil
			}
		}
		return fmt.Errorf("none in %d events", len(events.Items))
	})
	if n, _ := cs.CoreV1().Nodes().Get(ctx, "e", metav1.GetOptions{}); n.Spec.PodCIDR != "" {
		t.Fatalf("node e got %s from a full range", n.Spec.PodCIDR)
	}

	// A deleted node's CIDR goes to the waiting one.
	if err := cs.CoreV1().Nodes().Delete(ctx, "c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if e := podCIDRs(t, cs, "e")["e"]; e != got["c"] {
		t.Errorf("node e got %s, want c's freed %s", e, got["c"])
	}

	// A new controller starts from what the nodes hold.
	stop()
	if err := cs.CoreV1().Nodes().Delete(ctx, "d", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	createNode(t, cs, "f", "")
	startController(t, cs, "10.42.0.0/22")
	all := podCIDRs(t, cs, "a", "b", "e", "f")
	assertDistinct(t, all)
	if all["f"] != got["d"] {
		t.Errorf("node f got %s, want the only free one %s", all["f"], got["d"])
	}
}
