package api

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
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

// bootstrap creates the objects every cluster has: the system namespaces,
// the "kubernetes" Service in default, whose port 443 targets port (the
// port the API is served on), and the cluster DNS Service dnsSvc (right
// after, so that no other Service takes its address first).
func bootstrap(ctx context.Context, srv *apiserver.Server, alloc *servicealloc.Allocator, port int32, dnsSvc *corev1.Service) error {
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
	_, err = client.CoreV1().Services(dnsSvc.Namespace).Create(ctx, dnsSvc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create service %s/%s: %w", dnsSvc.Namespace, dnsSvc.Name, err)
	}
	return nil
}

// clusterDNSService is the cluster DNS Service kube-system/kube-dns: the
// ClusterIP cfg.ClusterDNS, ports dns 53/UDP and dns-tcp 53/TCP to
// cfg.ClusterDNSPort, and no selector: the server keeps its Endpoints.
func clusterDNSService(cfg Config) *corev1.Service {
	ip := cfg.ClusterDNS
	if !ip.IsValid() {
		ip = DefaultClusterDNS(cfg.ServiceCIDR)
	}
	target := cfg.ClusterDNSPort
	if target <= 0 {
		target = wellknown.DNSPort
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: wellknown.DNSServiceName, Namespace: metav1.NamespaceSystem,
			Labels: wellknown.DNSServiceLabels(),
		},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: ip.String(),
			Ports: []corev1.ServicePort{
				{Name: wellknown.DNSPortName, Port: wellknown.DNSPort, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt(target)},
				{Name: wellknown.DNSTCPPortName, Port: wellknown.DNSPort, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt(target)},
			},
		},
	}
}

// DefaultClusterDNS is the default cluster DNS address of a service range:
// its tenth address (10.43.0.10 in 10.43.0.0/16, the default range when
// cidr is not valid).
func DefaultClusterDNS(cidr netip.Prefix) netip.Addr {
	if !cidr.IsValid() {
		cidr = netip.MustParsePrefix("10.43.0.0/16")
	}
	a := cidr.Masked().Addr()
	for range 10 {
		a = a.Next()
	}
	return a
}
