//go:build integration

package endpointslice_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/internal/controller/endpointslice"
	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/testserver"
)

// readyPod creates a pod on node n1 with ip and sets its Ready condition.
func readyPod(t *testing.T, ctx context.Context, client kubernetes.Interface, name, ip string, ready bool) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{
			Name: "c", Image: "img", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}},
		}}},
	}
	p, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setReady(t, ctx, client, p, ip, ready)
}

func setReady(t *testing.T, ctx context.Context, client kubernetes.Interface, p *corev1.Pod, ip string, ready bool) {
	t.Helper()
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP, p.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// endpoints renders the service's controller-managed slices as
// "port:ip=ready" sets.
func endpoints(ctx context.Context, client kubernetes.Interface, svc string) (map[string]bool, int, error) {
	l, err := client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + svc + "," + discoveryv1.LabelManagedBy + "=endpointslice-controller.k8s.io",
	})
	if err != nil {
		return nil, 0, err
	}
	got := map[string]bool{}
	for _, s := range l.Items {
		port := "-"
		if len(s.Ports) > 0 {
			port = fmt.Sprint(*s.Ports[0].Port)
		}
		for _, e := range s.Endpoints {
			got[port+":"+e.Addresses[0]] = *e.Conditions.Ready
		}
	}
	return got, len(l.Items), nil
}

func TestEndpointSlicesFollowPods(t *testing.T) {
	s := testserver.Start(t, nil)
	client := s.Client
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	c := endpointslice.New(client, factory, endpointslice.Options{Options: queue.Options{Workers: 2}})
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	wg.Go(func() { c.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); factory.Shutdown() })

	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "grpc", Namespace: "default"}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "grpc", Port: 90, TargetPort: intstr.FromString("grpc")}},
		}},
	} {
		if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Before any pod: one empty placeholder slice.
	testserver.Poll(t, 30*time.Second, "placeholder slice", func() error {
		got, n, err := endpoints(ctx, client, "web")
		if err != nil || n != 1 || len(got) != 0 {
			return fmt.Errorf("%d slices %v %v", n, got, err)
		}
		return nil
	})
	readyPod(t, ctx, client, "a", "10.42.0.2", true)
	readyPod(t, ctx, client, "b", "10.42.0.3", false)
	testserver.Poll(t, 30*time.Second, "endpoints of both pods", func() error {
		got, n, err := endpoints(ctx, client, "web")
		if err != nil || n != 1 || fmt.Sprint(got) != "map[8000:10.42.0.2:true 8000:10.42.0.3:false]" {
			return fmt.Errorf("%d slices %v %v", n, got, err)
		}
		return nil
	})
	// A readiness flip moves the pod out of ready.
	a, err := client.CoreV1().Pods("default").Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setReady(t, ctx, client, a, "10.42.0.2", false)
	testserver.Poll(t, 30*time.Second, "pod a not ready", func() error {
		got, _, err := endpoints(ctx, client, "web")
		if err != nil || got["8000:10.42.0.2"] {
			return fmt.Errorf("%v %v", got, err)
		}
		return nil
	})
	// A pod being deleted (its node has not confirmed yet) stays, terminating.
	if err := client.CoreV1().Pods("default").Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "pod b terminating", func() error {
		l, err := client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			return err
		}
		for _, s := range l.Items {
			for _, e := range s.Endpoints {
				if e.TargetRef.Name == "b" && *e.Conditions.Terminating && !*e.Conditions.Ready {
					return nil
				}
			}
		}
		return fmt.Errorf("no terminating endpoint for b in %+v", l.Items)
	})
	// A targetPort name no container has: the endpoints carry no port.
	testserver.Poll(t, 30*time.Second, "grpc service without ports", func() error {
		l, err := client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=grpc"})
		if err != nil {
			return err
		}
		eps := 0
		for _, s := range l.Items {
			if len(s.Ports) != 0 {
				return fmt.Errorf("slice %s has ports %v", s.Name, s.Ports)
			}
			eps += len(s.Endpoints)
		}
		if eps != 2 {
			return fmt.Errorf("%d endpoints without ports, want 2", eps)
		}
		return nil
	})
	// A deleted slice comes back.
	l, err := client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("%v %v", l, err)
	}
	if err := client.DiscoveryV1().EndpointSlices("default").Delete(ctx, l.Items[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "slice recreated", func() error {
		got, n, err := endpoints(ctx, client, "web")
		if err != nil || n != 1 || len(got) != 2 {
			return fmt.Errorf("%d slices %v %v", n, got, err)
		}
		return nil
	})
}
