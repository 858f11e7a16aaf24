//go:build integration

package core_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/testserver"
)

// allocateLoadBalancerNodePorts false: a LoadBalancer Service gets no node
// ports; true (the default) gets one per port.
func TestLoadBalancerNodePortsOptional(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	for _, allocate := range []bool{false, true} {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "lb-", Namespace: "default"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: new(allocate),
				Selector: map[string]string{"app": "x"}, Ports: []corev1.ServicePort{{Port: 80}}},
		}
		got, err := s.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if has := got.Spec.Ports[0].NodePort != 0; has != allocate {
			t.Errorf("allocateLoadBalancerNodePorts %v: nodePort %d", allocate, got.Spec.Ports[0].NodePort)
		}
	}
}
