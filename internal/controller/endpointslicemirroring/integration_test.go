//go:build integration

package endpointslicemirroring_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"skiff.dev/skiff/internal/controller/endpointslicemirroring"
	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/testserver"
)

func TestMirrorsHandWrittenEndpoints(t *testing.T) {
	s := testserver.Start(t, nil)
	client := s.Client
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	c := endpointslicemirroring.New(client, factory, endpointslicemirroring.Options{Options: queue.Options{Workers: 2}})
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	wg.Go(func() { c.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); factory.Shutdown() })

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: "default"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.0.2.1"}}, Ports: []corev1.EndpointPort{{Name: "http", Port: 8080}}}}}
	if _, err := client.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mirrored := func() ([]discoveryv1.EndpointSlice, error) {
		l, err := client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=ext," + discoveryv1.LabelManagedBy + "=endpointslicemirroring-controller.k8s.io",
		})
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	}
	testserver.Poll(t, 30*time.Second, "mirrored slice", func() error {
		items, err := mirrored()
		if err != nil {
			return err
		}
		if len(items) != 1 || len(items[0].Endpoints) != 1 || items[0].Endpoints[0].Addresses[0] != "192.0.2.1" || *items[0].Ports[0].Port != 8080 {
			return fmt.Errorf("slices %+v", items)
		}
		return nil
	})
	// skip-mirror: the slice goes.
	cur, err := client.CoreV1().Endpoints("default").Get(ctx, "ext", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Labels = map[string]string{discoveryv1.LabelSkipMirror: "true"}
	if _, err := client.CoreV1().Endpoints("default").Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "mirrored slice removed", func() error {
		items, err := mirrored()
		if err != nil || len(items) != 0 {
			return fmt.Errorf("%d slices %v", len(items), err)
		}
		return nil
	})
}
