//go:build integration

package servicelb_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/controller/servicelb"
	"skiff.dev/skiff/internal/testserver"
	"skiff.dev/skiff/internal/wellknown"
)

func TestLoadBalancerIngress(t *testing.T) {
	s := testserver.Start(t, nil)
	client := s.Client
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	c := servicelb.New(client, factory, servicelb.Options{Options: queue.Options{}})
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	wg.Go(func() { c.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); factory.Shutdown() })

	n, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: "n1", Labels: map[string]string{wellknown.ServiceProxyLabel: "true"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.7.10"}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	mk := func(name string, class *string) {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: class, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Port: 80}},
		}}
		if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("other", new("example.com/lb"))
	mk("web", nil)
	testserver.Poll(t, 30*time.Second, "ingress of web", func() error {
		svc, err := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if in := svc.Status.LoadBalancer.Ingress; len(in) != 1 || in[0].IP != "192.168.7.10" {
			return fmt.Errorf("ingress %+v", in)
		}
		return nil
	})
	other, err := client.CoreV1().Services("default").Get(ctx, "other", metav1.GetOptions{})
	if err != nil || len(other.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("another class's service got ingress: %+v %v", other.Status.LoadBalancer, err)
	}
	// The node stops being ready: the ingress empties.
	n, err = client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions[0].Status = corev1.ConditionFalse
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "ingress of web emptied", func() error {
		svc, err := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if in := svc.Status.LoadBalancer.Ingress; len(in) != 0 {
			return fmt.Errorf("ingress %+v", in)
		}
		return nil
	})
}
