package dns

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
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

// ports are the kube-dns Endpoints ports of a DNS server on port.
func ports(port uint16) []corev1.EndpointPort {
	return []corev1.EndpointPort{
		{Name: wellknown.DNSPortName, Port: int32(port), Protocol: corev1.ProtocolUDP},
		{Name: wellknown.DNSTCPPortName, Port: int32(port), Protocol: corev1.ProtocolTCP},
	}
}

// DesiredEndpoints is the Endpoints kube-system/kube-dns with addr, a
// server's address, in them: existing (nil: none yet) with addr added under
// its ports, the same IP left out of other ports (the server moved to
// another port), other servers' addresses kept. The bool says whether that
// differs from existing.
func DesiredEndpoints(existing *corev1.Endpoints, addr netip.AddrPort) (*corev1.Endpoints, bool) {
	var want *corev1.Endpoints
	if existing == nil {
		want = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: wellknown.DNSServiceName, Namespace: metav1.NamespaceSystem}}
	} else {
		want = existing.DeepCopy()
	}
	if want.Labels == nil {
		want.Labels = map[string]string{}
	}
	for k, v := range wellknown.DNSServiceLabels() {
		want.Labels[k] = v
	}
	ip, own := addr.Addr().String(), ports(addr.Port())
	samePorts := func(ss corev1.EndpointSubset) bool { return apiequality.Semantic.DeepEqual(ss.Ports, own) }
	want.Subsets = withoutIP(want.Subsets, ip, func(ss corev1.EndpointSubset) bool { return !samePorts(ss) })
	i := slices.IndexFunc(want.Subsets, samePorts)
	if i < 0 {
		want.Subsets = append(want.Subsets, corev1.EndpointSubset{Ports: own})
		i = len(want.Subsets) - 1
	}
	ss := &want.Subsets[i]
	ss.NotReadyAddresses = slices.DeleteFunc(ss.NotReadyAddresses, func(a corev1.EndpointAddress) bool { return a.IP == ip })
	if len(ss.NotReadyAddresses) == 0 {
		ss.NotReadyAddresses = nil
	}
	if !slices.ContainsFunc(ss.Addresses, func(a corev1.EndpointAddress) bool { return a.IP == ip }) {
		ss.Addresses = append(ss.Addresses, corev1.EndpointAddress{IP: ip})
	}
	changed := existing == nil || !apiequality.Semantic.DeepEqual(existing.Subsets, want.Subsets) ||
		!apiequality.Semantic.DeepEqual(existing.Labels, want.Labels)
	return want, changed
}

// withoutIP removes ip from the subsets match selects and drops the
// subsets left without addresses; subsets is not modified.
func withoutIP(subsets []corev1.EndpointSubset, ip string, match func(corev1.EndpointSubset) bool) []corev1.EndpointSubset {
	var out []corev1.EndpointSubset
	isIP := func(a corev1.EndpointAddress) bool { return a.IP == ip }
	for _, ss := range subsets {
		if match(ss) && (slices.ContainsFunc(ss.Addresses, isIP) || slices.ContainsFunc(ss.NotReadyAddresses, isIP)) {
			ss.Addresses = slices.DeleteFunc(slices.Clone(ss.Addresses), isIP)
			ss.NotReadyAddresses = slices.DeleteFunc(slices.Clone(ss.NotReadyAddresses), isIP)
			if len(ss.Addresses)+len(ss.NotReadyAddresses) == 0 {
				continue
			}
		}
		out = append(out, ss)
	}
	return out
}

// KeepEndpoints keeps addr, the address of a running DNS server, in the
// kube-system/kube-dns Endpoints until ctx ends, then takes it out: it
// writes it at once, again whenever the Endpoints change or are deleted, and
// checks every period (default 30s). Other servers' addresses stay, so that
// several skiff servers share the Service; the address of one that crashed
// stays until it is removed by hand or the server comes back on it. The
// EndpointSlice mirroring controller turns the Endpoints into the
// selector-less Service's slices.
func KeepEndpoints(ctx context.Context, client kubernetes.Interface, addr netip.AddrPort, period time.Duration, log *slog.Logger) {
	if period <= 0 {
		period = 30 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
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
	defer removeAddress(context.WithoutCancel(ctx), client, addr, log)
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	backoff := time.Duration(0)
	for {
		existing, err := inf.Lister().Endpoints(metav1.NamespaceSystem).Get(wellknown.DNSServiceName)
		if err != nil {
			existing = nil
		}
		if err := syncEndpoints(ctx, client, existing, addr); err != nil {
			if ctx.Err() != nil {
				return
			}
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

// syncEndpoints writes DesiredEndpoints when they differ from existing.
func syncEndpoints(ctx context.Context, client kubernetes.Interface, existing *corev1.Endpoints, addr netip.AddrPort) error {
	want, changed := DesiredEndpoints(existing, addr)
	if !changed {
		return nil
	}
	eps := client.CoreV1().Endpoints(metav1.NamespaceSystem)
	if existing == nil {
		if _, err := eps.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create endpoints %s/%s: %w", want.Namespace, want.Name, err)
		}
		return nil
	}
	if _, err := eps.Update(ctx, want, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update endpoints %s/%s: %w", want.Namespace, want.Name, err)
	}
	return nil
}

// removeAddress takes addr out of the Endpoints, for a server that stops.
func removeAddress(ctx context.Context, client kubernetes.Interface, addr netip.AddrPort, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	eps := client.CoreV1().Endpoints(metav1.NamespaceSystem)
	own := ports(addr.Port())
	for range 3 {
		cur, err := eps.Get(ctx, wellknown.DNSServiceName, metav1.GetOptions{})
		if err != nil {
			if !apierrors.IsNotFound(err) {
				log.Warn("cluster DNS endpoints: removing this server's address", "err", err)
			}
			return
		}
		subsets := withoutIP(cur.Subsets, addr.Addr().String(), func(ss corev1.EndpointSubset) bool {
			return apiequality.Semantic.DeepEqual(ss.Ports, own)
		})
		if apiequality.Semantic.DeepEqual(subsets, cur.Subsets) {
			return
		}
		cur.Subsets = subsets
		_, err = eps.Update(ctx, cur, metav1.UpdateOptions{})
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			log.Warn("cluster DNS endpoints: removing this server's address", "err", err)
			return
		}
	}
}
