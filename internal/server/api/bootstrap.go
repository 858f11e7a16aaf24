package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/registry/servicealloc"
	"skiff.dev/skiff/internal/wellknown"
)

// waitReady polls /readyz through the loopback client.
func waitReady(ctx context.Context, srv *apiserver.Server) error {
	client, err := kubernetes.NewForConfig(srv.Loopback)
	if err != nil {
		return err
	}
	return wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var code int
		client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).StatusCode(&code)
		return code == http.StatusOK, nil
	})
}

// bootstrap creates the objects every cluster has: the system namespaces
// and the "kubernetes" Service in default, whose port 443 targets port
// (the port the API is served on).
func bootstrap(ctx context.Context, srv *apiserver.Server, alloc *servicealloc.Allocator, port int32) error {
	client, err := kubernetes.NewForConfig(srv.Loopback)
	if err != nil {
		return err
	}
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	ip := alloc.FirstIP()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: wellknown.KubernetesServiceName, Namespace: metav1.NamespaceDefault, Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: ip,
			Ports:     []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(port)}},
		},
	}
	_, err = client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create kubernetes service: %w", err)
	}
	return nil
}
