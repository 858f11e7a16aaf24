package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/internal/wellknown"
)

// endpointResync is how often the kubernetes Service's endpoints are checked
// (and rewritten when someone changed or deleted them).
const endpointResync = 10 * time.Second

// servicePortName is the name of the kubernetes Service's port.
const servicePortName = "https"

// EndpointAddress chooses the address pods reach the API server at: the
// advertise address when it is an IP that is neither loopback nor
// unspecified, else the address of the interface of the default route (as
// kube-apiserver does).
func EndpointAddress(advertise string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(advertise); err == nil && !a.IsLoopback() && !a.IsUnspecified() {
		return a.Unmap(), nil
	}
	ip, err := utilnet.ChooseHostInterface()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("choose the API server's endpoint address: %w", err)
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}, fmt.Errorf("choose the API server's endpoint address: bad address %v", ip)
	}
	return a.Unmap(), nil
}

// kubernetesEndpoints is the Endpoints of the kubernetes Service: addr and
// port; it is never mirrored (the EndpointSlice is written beside it).
func kubernetesEndpoints(addr netip.Addr, port int32) *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{
			Name: wellknown.KubernetesServiceName, Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelSkipMirror: "true"},
		},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: addr.String()}},
			Ports:     []corev1.EndpointPort{{Name: servicePortName, Port: port, Protocol: corev1.ProtocolTCP}},
		}},
	}
}

// kubernetesSlice is the EndpointSlice of the kubernetes Service, as
// kube-apiserver writes it: named like the Service, labelled with its name
// only (no manager), one ready endpoint.
func kubernetesSlice(addr netip.Addr, port int32) *discoveryv1.EndpointSlice {
	at := discoveryv1.AddressTypeIPv4
	if addr.Is6() {
		at = discoveryv1.AddressTypeIPv6
	}
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: wellknown.KubernetesServiceName, Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelServiceName: wellknown.KubernetesServiceName},
		},
		AddressType: at,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr.String()}, Conditions: discoveryv1.EndpointConditions{Ready: new(true)}}},
		Ports: []discoveryv1.EndpointPort{{
			Name: new(servicePortName), Port: new(port), Protocol: new(corev1.ProtocolTCP),
		}},
	}
}

// reconcileKubernetesEndpoints makes the kubernetes Service target port,
// its Endpoints and its EndpointSlice point at addr:port.
func reconcileKubernetesEndpoints(ctx context.Context, client kubernetes.Interface, addr netip.Addr, port int32) error {
	ns := metav1.NamespaceDefault
	svc, err := client.CoreV1().Services(ns).Get(ctx, wellknown.KubernetesServiceName, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("kubernetes service: %w", err)
	}
	if err == nil {
		for i := range svc.Spec.Ports {
			if p := &svc.Spec.Ports[i]; p.Name == servicePortName && p.TargetPort != intstr.FromInt32(port) {
				p.TargetPort = intstr.FromInt32(port)
				if _, err := client.CoreV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
					return fmt.Errorf("kubernetes service target port: %w", err)
				}
				break
			}
		}
	}

	wantEP := kubernetesEndpoints(addr, port)
	ep, err := client.CoreV1().Endpoints(ns).Get(ctx, wantEP.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := client.CoreV1().Endpoints(ns).Create(ctx, wantEP, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("kubernetes endpoints: %w", err)
		}
	case err != nil:
		return fmt.Errorf("kubernetes endpoints: %w", err)
	case !apiequality.Semantic.DeepEqual(ep.Subsets, wantEP.Subsets) || ep.Labels[discoveryv1.LabelSkipMirror] != "true":
		ep.Subsets = wantEP.Subsets
		if ep.Labels == nil {
			ep.Labels = map[string]string{}
		}
		ep.Labels[discoveryv1.LabelSkipMirror] = "true"
		if _, err := client.CoreV1().Endpoints(ns).Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("kubernetes endpoints: %w", err)
		}
	}

	wantSlice := kubernetesSlice(addr, port)
	slices := client.DiscoveryV1().EndpointSlices(ns)
	s, err := slices.Get(ctx, wantSlice.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := slices.Create(ctx, wantSlice, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("kubernetes endpointslice: %w", err)
		}
	case err != nil:
		return fmt.Errorf("kubernetes endpointslice: %w", err)
	case s.AddressType != wantSlice.AddressType:
		// The address type cannot change: replace the slice.
		if err := slices.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("kubernetes endpointslice: %w", err)
		}
		if _, err := slices.Create(ctx, wantSlice, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("kubernetes endpointslice: %w", err)
		}
	case !apiequality.Semantic.DeepEqual(s.Endpoints, wantSlice.Endpoints) || !apiequality.Semantic.DeepEqual(s.Ports, wantSlice.Ports) ||
		!apiequality.Semantic.DeepEqual(s.Labels, wantSlice.Labels):
		s.Endpoints, s.Ports, s.Labels = wantSlice.Endpoints, wantSlice.Ports, wantSlice.Labels
		if _, err := slices.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("kubernetes endpointslice: %w", err)
		}
	}
	return nil
}

// runEndpointReconciler keeps the kubernetes Service's endpoints at
// addr:port until ctx ends: at once, then every endpointResync.
func runEndpointReconciler(ctx context.Context, client kubernetes.Interface, addr netip.Addr, port int32, log *slog.Logger) {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := reconcileKubernetesEndpoints(ctx, client, addr, port); err != nil && ctx.Err() == nil {
			log.Warn("kubernetes service endpoints", "err", err)
		}
	}, endpointResync)
}
