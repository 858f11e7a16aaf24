// Package servicealloc hands out Service ClusterIPs and NodePorts. Each
// allocated address or port is one etcd key created with a compare-and-swap,
// so several API servers on one etcd never hand out the same value twice,
// even under concurrent creates. A key's value names the Service that holds
// it by namespace, name and UID; a repair loop (RunRepair, as
// kube-apiserver's) releases keys no Service uses and writes back the keys
// of Services whose record was lost, so a crash at any point of a create,
// update or delete heals.
package servicealloc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"skiff.dev/skiff/internal/registry/store"
)

// Config says what to allocate from.
type Config struct {
	// Client talks to the etcd that holds the allocations.
	Client *clientv3.Client
	// Prefix of the allocation keys; defaults to /skiff/allocations.
	Prefix string
	// ServiceCIDR is the range of ClusterIPs, e.g. 10.43.0.0/16.
	ServiceCIDR netip.Prefix
	// NodePortMin and NodePortMax bound the NodePorts, inclusive.
	NodePortMin, NodePortMax int
	Logger                   *slog.Logger
}

// Allocator reserves ClusterIPs and NodePorts in etcd.
type Allocator struct {
	cfg Config
}

// New returns an allocator with defaults filled in.
func New(cfg Config) (*Allocator, error) {
	if cfg.Client == nil {
		return nil, errors.New("servicealloc: an etcd client is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/skiff/allocations"
	}
	if !cfg.ServiceCIDR.IsValid() {
		cfg.ServiceCIDR = netip.MustParsePrefix("10.43.0.0/16")
	}
	if cfg.NodePortMin == 0 {
		cfg.NodePortMin, cfg.NodePortMax = 30000, 32767
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Allocator{cfg: cfg}, nil
}

// Wrap installs the allocation hooks on the Service storage.
func (a *Allocator) Wrap(s *store.Storage) *store.Storage {
	s.Store.BeginCreate = a.beginCreate
	s.Store.BeginUpdate = a.beginUpdate
	s.Store.AfterDelete = a.afterDelete
	return s
}

// FirstIP returns the first usable address of the range: the API server's
// own "kubernetes" Service.
func (a *Allocator) FirstIP() string {
	return a.cfg.ServiceCIDR.Masked().Addr().Next().String()
}

// owner is the value of the allocation records a Service holds:
// namespace/name/uid. The UID tells a Service from a later one of the same
// name, so that the repair loop knows a record whose Service is gone. A
// record of namespace/name alone is a reservation made before the Service
// exists (ReserveIP); the Service of that name takes it over.
func owner(svc *corev1.Service) string {
	if svc.UID == "" {
		return svc.Namespace + "/" + svc.Name
	}
	return svc.Namespace + "/" + svc.Name + "/" + string(svc.UID)
}

// parseOwner splits a record's value into namespace/name and UID ("" for a
// reservation by name).
func parseOwner(v string) (name, uid string) {
	parts := strings.SplitN(v, "/", 3)
	if len(parts) == 3 {
		return parts[0] + "/" + parts[1], parts[2]
	}
	return v, ""
}

func (a *Allocator) ipKey(ip string) string { return a.cfg.Prefix + "/clusterips/" + ip }
func (a *Allocator) portKey(port int32) string {
	return a.cfg.Prefix + "/nodeports/" + strconv.Itoa(int(port))
}

// transaction records what one create or update reserved, to release it if
// the write fails (or always, for a dry run).
type transaction struct {
	a        *Allocator
	owner    string
	reserved []string
	dryRun   bool
}

func (t *transaction) finish(ctx context.Context, success bool) {
	if success && !t.dryRun {
		return
	}
	for _, key := range t.reserved {
		t.a.release(context.WithoutCancel(ctx), key, t.owner)
	}
}

func needsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

func needsNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort ||
		(svc.Spec.Type == corev1.ServiceTypeLoadBalancer && (svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts))
}

func (a *Allocator) beginCreate(ctx context.Context, obj runtime.Object, options *metav1.CreateOptions) (genericregistry.FinishFunc, error) {
	svc := obj.(*corev1.Service)
	if svc.Namespace == "" {
		svc.Namespace, _ = genericapirequest.NamespaceFrom(ctx)
	}
	t := &transaction{a: a, owner: owner(svc), dryRun: len(options.DryRun) > 0}
	if err := a.allocate(ctx, t, svc, nil); err != nil {
		t.finish(ctx, false)
		return nil, err
	}
	return t.finish, nil
}

func (a *Allocator) beginUpdate(ctx context.Context, obj, old runtime.Object, options *metav1.UpdateOptions) (genericregistry.FinishFunc, error) {
	svc, oldSvc := obj.(*corev1.Service), old.(*corev1.Service)
	keepAllocated(svc, oldSvc)
	t := &transaction{a: a, owner: owner(oldSvc), dryRun: len(options.DryRun) > 0}
	if err := a.allocate(ctx, t, svc, oldSvc); err != nil {
		t.finish(ctx, false)
		return nil, err
	}
	released := a.releasedBy(svc, oldSvc)
	return func(ctx context.Context, success bool) {
		t.finish(ctx, success)
		if success && !t.dryRun {
			for _, key := range released {
				a.release(context.WithoutCancel(ctx), key, t.owner)
			}
		}
	}, nil
}

// keepAllocated carries the allocated ClusterIP and NodePorts over to an
// update that leaves them out (kubectl replace or apply of the original
// manifest), as Kubernetes does.
func keepAllocated(svc, old *corev1.Service) {
	if needsClusterIP(old) && needsClusterIP(svc) && svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIP = old.Spec.ClusterIP
		svc.Spec.ClusterIPs = append([]string(nil), old.Spec.ClusterIPs...)
	}
	if needsNodePorts(old) && needsNodePorts(svc) {
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort != 0 {
				continue
			}
			for _, op := range old.Spec.Ports {
				if op.NodePort != 0 && op.Port == p.Port && op.Protocol == p.Protocol {
					p.NodePort = op.NodePort
					break
				}
			}
		}
	}
}

// allocate reserves what svc needs and old (nil on create) does not hold.
func (a *Allocator) allocate(ctx context.Context, t *transaction, svc, old *corev1.Service) error {
	if needsClusterIP(svc) {
		held := old != nil && needsClusterIP(old) && old.Spec.ClusterIP == svc.Spec.ClusterIP
		if !held {
			ip, err := a.reserveIP(ctx, t, svc)
			if err != nil {
				return err
			}
			svc.Spec.ClusterIP = ip
		}
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	} else if svc.Spec.Type == corev1.ServiceTypeExternalName {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
	} else {
		svc.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
	}
	if !needsNodePorts(svc) {
		return nil
	}
	oldPorts := map[int32]bool{}
	if old != nil && needsNodePorts(old) {
		for _, p := range old.Spec.Ports {
			oldPorts[p.NodePort] = true
		}
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort != 0 && oldPorts[p.NodePort] {
			continue
		}
		port, err := a.reservePort(ctx, t, p.NodePort, field.NewPath("spec", "ports").Index(i).Child("nodePort"), svc)
		if err != nil {
			return err
		}
		p.NodePort = port
	}
	return nil
}

// releasedBy lists the keys old holds that svc no longer uses.
func (a *Allocator) releasedBy(svc, old *corev1.Service) []string {
	var keys []string
	if needsClusterIP(old) && old.Spec.ClusterIP != "" && (!needsClusterIP(svc) || svc.Spec.ClusterIP != old.Spec.ClusterIP) {
		keys = append(keys, a.ipKey(old.Spec.ClusterIP))
	}
	if needsNodePorts(old) {
		still := map[int32]bool{}
		if needsNodePorts(svc) {
			for _, p := range svc.Spec.Ports {
				still[p.NodePort] = true
			}
		}
		for _, p := range old.Spec.Ports {
			if p.NodePort != 0 && !still[p.NodePort] {
				keys = append(keys, a.portKey(p.NodePort))
			}
		}
	}
	return keys
}

func (a *Allocator) afterDelete(obj runtime.Object, _ *metav1.DeleteOptions) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	ctx := context.Background()
	for _, key := range a.releasedBy(&corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName}}, svc) {
		a.release(ctx, key, owner(svc))
	}
}

func invalid(svc *corev1.Service, path *field.Path, value interface{}, msg string) error {
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, field.ErrorList{field.Invalid(path, value, msg)})
}

func (a *Allocator) reserveIP(ctx context.Context, t *transaction, svc *corev1.Service) (string, error) {
	path := field.NewPath("spec", "clusterIPs").Index(0)
	if want := svc.Spec.ClusterIP; want != "" {
		ip, err := netip.ParseAddr(want)
		if err != nil {
			return "", invalid(svc, path, want, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
		}
		if !a.cfg.ServiceCIDR.Contains(ip) {
			return "", invalid(svc, path, want, fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", want, want, a.cfg.ServiceCIDR))
		}
		ok, err := a.reserve(ctx, a.ipKey(want), t.owner)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", invalid(svc, path, want, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", want))
		}
		t.reserved = append(t.reserved, a.ipKey(want))
		return want, nil
	}
	size := a.rangeSize()
	first := a.cfg.ServiceCIDR.Masked().Addr()
	// The first address is the API server's own Service; the last is the
	// broadcast address. Try a few random addresses above the static band
	// (where the cluster DNS address, the tenth, lies), then scan all.
	band := staticBand(size)
	for attempt := 0; attempt < 16; attempt++ {
		ip := nth(first, band+rand.Int64N(size-1-band)).String()
		ok, err := a.reserve(ctx, a.ipKey(ip), t.owner)
		if err != nil {
			return "", err
		}
		if ok {
			t.reserved = append(t.reserved, a.ipKey(ip))
			return ip, nil
		}
	}
	for i := int64(2); i < size-1; i++ {
		ip := nth(first, i).String()
		ok, err := a.reserve(ctx, a.ipKey(ip), t.owner)
		if err != nil {
			return "", err
		}
		if ok {
			t.reserved = append(t.reserved, a.ipKey(ip))
			return ip, nil
		}
	}
	return "", invalid(svc, path, "", "failed to allocate IP: range is full")
}

// ReserveIP reserves a specific address for owner (namespace/name) before
// its Service exists; the Service of that name takes the reservation over
// when it is created. Reserving what the owner already holds succeeds. The
// repair loop keeps such reservations.
func (a *Allocator) ReserveIP(ctx context.Context, ip, owner string) error {
	_, err := a.reserve(ctx, a.ipKey(ip), owner)
	return err
}

// staticBand is where random allocation starts in a range of size
// addresses: as Kubernetes' (KEP-3070), the lower size/16 addresses (at
// least 16, at most 256) are left to Services that ask for an address — the
// cluster DNS Service among them — unless the rest is full; in a range too
// small for a band, after the network and the first address.
func staticBand(size int64) int64 {
	band := min(max(size/16, 16), 256)
	if band >= size-2 {
		return 2
	}
	return band
}

func (a *Allocator) rangeSize() int64 {
	bits := a.cfg.ServiceCIDR.Addr().BitLen() - a.cfg.ServiceCIDR.Bits()
	if bits > 20 {
		bits = 20 // at most a million addresses are considered
	}
	return int64(1) << bits
}

func nth(first netip.Addr, n int64) netip.Addr {
	v := new(big.Int).SetBytes(first.AsSlice())
	v.Add(v, big.NewInt(n))
	b := v.Bytes()
	out := make([]byte, len(first.AsSlice()))
	copy(out[len(out)-len(b):], b)
	addr, _ := netip.AddrFromSlice(net.IP(out))
	return addr
}

func (a *Allocator) reservePort(ctx context.Context, t *transaction, want int32, path *field.Path, svc *corev1.Service) (int32, error) {
	if want != 0 {
		if int(want) < a.cfg.NodePortMin || int(want) > a.cfg.NodePortMax {
			return 0, invalid(svc, path, want, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.cfg.NodePortMin, a.cfg.NodePortMax))
		}
		ok, err := a.reserve(ctx, a.portKey(want), t.owner)
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, invalid(svc, path, want, "provided port is already allocated")
		}
		t.reserved = append(t.reserved, a.portKey(want))
		return want, nil
	}
	n := a.cfg.NodePortMax - a.cfg.NodePortMin + 1
	start := rand.IntN(n)
	for i := 0; i < n; i++ {
		port := int32(a.cfg.NodePortMin + (start+i)%n)
		ok, err := a.reserve(ctx, a.portKey(port), t.owner)
		if err != nil {
			return 0, err
		}
		if ok {
			t.reserved = append(t.reserved, a.portKey(port))
			return port, nil
		}
	}
	return 0, invalid(svc, path, 0, "failed to allocate a nodePort: range is full")
}

// reserve creates key for owner if nobody holds it; holding it already counts.
func (a *Allocator) reserve(ctx context.Context, key, owner string) (bool, error) {
	resp, err := a.cfg.Client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, owner)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return false, apierrors.NewInternalError(fmt.Errorf("reserve %s: %w", key, err))
	}
	if resp.Succeeded {
		return true, nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) != 1 {
		return false, nil
	}
	held := string(kvs[0].Value)
	if held == owner {
		return true, nil
	}
	// A reservation by name is taken over by the Service of that name.
	heldName, heldUID := parseOwner(held)
	name, uid := parseOwner(owner)
	if heldUID != "" || uid == "" || heldName != name {
		return false, nil
	}
	resp, err = a.cfg.Client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", kvs[0].ModRevision)).
		Then(clientv3.OpPut(key, owner)).
		Commit()
	if err != nil {
		return false, apierrors.NewInternalError(fmt.Errorf("reserve %s: %w", key, err))
	}
	return resp.Succeeded, nil
}

func (a *Allocator) release(ctx context.Context, key, owner string) {
	_, err := a.cfg.Client.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(key), "=", owner)).
		Then(clientv3.OpDelete(key)).
		Commit()
	if err != nil {
		a.cfg.Logger.Error("release service allocation", "key", strings.TrimPrefix(key, a.cfg.Prefix), "owner", owner, "err", err)
	}
}
