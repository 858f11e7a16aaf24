package dns

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/internal/wellknown"
)

// DesiredEndpoints is the Endpoints kube-system/kube-dns for a DNS server
// at addr: one address, the "dns" (UDP) and "dns-tcp" (TCP) ports.
func DesiredEndpoints(addr netip.AddrPort) *corev1.Endpoints {
	port := int32(addr.Port())
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: wellknown.DNSServiceName, Namespace: metav1.NamespaceSystem, Labels: wellknown.DNSServiceLabels()},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: addr.Addr().String()}},
			Ports: []corev1.EndpointPort{
				{Name: wellknown.DNSPortName, Port: port, Protocol: corev1.ProtocolUDP},
				{Name: wellknown.DNSTCPPortName, Port: port, Protocol: corev1.ProtocolTCP},
			},
		}},
	}
}

// endpointsAction is what keeping the Endpoints needs: nothing, a create or
// an update of existing (to want's subsets and labels).
type endpointsAction int

const (
	endpointsOK endpointsAction = iota
	endpointsCreate
	endpointsUpdate
)

// decideEndpoints compares the existing Endpoints (nil: none) with want.
func decideEndpoints(existing, want *corev1.Endpoints) endpointsAction {
	if existing == nil {
		return endpointsCreate
	}
	if !apiequality.Semantic.DeepEqual(existing.Subsets, want.Subsets) {
		return endpointsUpdate
	}
	for k, v := range want.Labels {
		if existing.Labels[k] != v {
			return endpointsUpdate
		}
	}
	return endpointsOK
}

// KeepEndpoints keeps kube-system/kube-dns Endpoints pointing at addr until
// ctx ends: it writes them at once, again whenever they change or are
// deleted, and checks every period (default 30s). The EndpointSlice
// mirroring controller turns them into the selector-less Service's slices.
// One writer is assumed: with several servers the last one wins.
func KeepEndpoints(ctx context.Context, client kubernetes.Interface, addr netip.AddrPort, period time.Duration, log *slog.Logger) {
	if period <= 0 {
		period = 30 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	want := DesiredEndpoints(addr)
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithNamespace(metav1.NamespaceSystem),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", wellknown.DNSServiceName).String()
		}))
	inf := factory.Core().V1().Endpoints()
	kick := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    poke,
		UpdateFunc: func(_, obj any) { poke(obj) },
		DeleteFunc: poke,
	}); err != nil {
		log.Error("cluster DNS endpoints informer", "err", err)
		return
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return
	}
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	backoff := time.Duration(0)
	for {
		existing, err := inf.Lister().Endpoints(metav1.NamespaceSystem).Get(wellknown.DNSServiceName)
		if err != nil && !apierrors.IsNotFound(err) {
			log.Error("cluster DNS endpoints", "err", err)
		}
		if err != nil {
			existing = nil
		}
		if err := syncEndpoints(ctx, client, existing, want); err != nil {
			log.Warn("cluster DNS endpoints", "err", err)
			backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-ticker.C:
		}
	}
}

// syncEndpoints carries out decideEndpoints.
func syncEndpoints(ctx context.Context, client kubernetes.Interface, existing, want *corev1.Endpoints) error {
	eps := client.CoreV1().Endpoints(metav1.NamespaceSystem)
	switch decideEndpoints(existing, want) {
	case endpointsCreate:
		_, err := eps.Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create endpoints %s/%s: %w (the cache is behind; again)", want.Namespace, want.Name, err)
		}
		if err != nil {
			return fmt.Errorf("create endpoints %s/%s: %w", want.Namespace, want.Name, err)
		}
	case endpointsUpdate:
		upd := existing.DeepCopy()
		upd.Subsets = want.Subsets
		if upd.Labels == nil {
			upd.Labels = map[string]string{}
		}
		for k, v := range want.Labels {
			upd.Labels[k] = v
		}
		if _, err := eps.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update endpoints %s/%s: %w", want.Namespace, want.Name, err)
		}
	}
	return nil
}
