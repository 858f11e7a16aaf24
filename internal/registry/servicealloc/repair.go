package servicealloc

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
)

// Services lists every Service: what the repair loop compares the records
// with (client-go's Services("") does).
type Services interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.ServiceList, error)
}

// RepairOptions configure the repair loop; zero values take the defaults.
type RepairOptions struct {
	// Interval between passes; default 3 minutes (kube-apiserver's).
	Interval time.Duration
	// Grace is how long a record must be seen held by no Service before it
	// is released, so that a create whose record is written but whose
	// Service is not yet is not raced; default 1 minute.
	Grace time.Duration
	// Clock defaults to the real clock.
	Clock clock.PassiveClock
}

// record is one allocation record as read from etcd.
type record struct {
	key   string // the key without the allocator's prefix: clusterips/IP or nodeports/PORT
	value string // the owner
	rev   int64  // its mod revision
}

// fixAction is what the repair loop does to one record.
type fixAction string

const (
	// fixRelease deletes a record no Service uses (a leak).
	fixRelease fixAction = "released"
	// fixRecord writes the missing record of a Service's address or port.
	fixRecord fixAction = "recorded"
	// fixReown rewrites a record held by another owner than the Service
	// that uses the address or port.
	fixReown fixAction = "re-recorded"
	// fixDuplicate is not applied: several Services use one address or
	// port, which only a person can sort out; it is logged.
	fixDuplicate fixAction = "duplicate"
)

// fix is one repair.
type fix struct {
	action   fixAction
	key      string
	value    string // the record to write (recorded, re-recorded)
	old      string // the record's value before (released, re-recorded)
	rev      int64  // the record's mod revision before (released, re-recorded)
	services []string
}

// planRepair compares the allocation records with the addresses and ports
// the Services use (keysOf) and returns what to fix, and the leaks to keep
// watching: a record no Service uses is released only once it has been seen
// so (with the same value) for grace, according to leakedSince (key+value
// -> first seen), which the next pass gets back. A reservation by name (no
// UID) with no Service is kept.
func planRepair(records []record, services []corev1.Service, keysOf func(*corev1.Service) []string,
	leakedSince map[string]time.Time, now time.Time, grace time.Duration) ([]fix, map[string]time.Time) {
	users := map[string][]*corev1.Service{}
	for i := range services {
		for _, k := range keysOf(&services[i]) {
			users[k] = append(users[k], &services[i])
		}
	}
	var fixes []fix
	nextLeaked := map[string]time.Time{}
	recorded := map[string]bool{}
	for _, r := range records {
		recorded[r.key] = true
		us := users[r.key]
		if len(us) == 0 {
			if _, uid := parseOwner(r.value); uid == "" {
				continue // a reservation by name
			}
			id := r.key + "\x00" + r.value
			since, seen := leakedSince[id]
			if !seen {
				since = now
			}
			if now.Sub(since) >= grace {
				fixes = append(fixes, fix{action: fixRelease, key: r.key, old: r.value, rev: r.rev})
				continue
			}
			nextLeaked[id] = since
			continue
		}
		if want := owner(us[0]); r.value != want {
			fixes = append(fixes, fix{action: fixReown, key: r.key, value: want, old: r.value, rev: r.rev, services: []string{nameOf(us[0])}})
		}
	}
	keys := make([]string, 0, len(users))
	for k := range users {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		us := users[k]
		if len(us) > 1 {
			names := make([]string, len(us))
			for i, s := range us {
				names[i] = nameOf(s)
			}
			fixes = append(fixes, fix{action: fixDuplicate, key: k, services: names})
		}
		if !recorded[k] {
			fixes = append(fixes, fix{action: fixRecord, key: k, value: owner(us[0]), services: []string{nameOf(us[0])}})
		}
	}
	return fixes, nextLeaked
}

func nameOf(svc *corev1.Service) string { return svc.Namespace + "/" + svc.Name }

// keysOf returns the record keys (without prefix) of the ClusterIP and
// NodePorts svc uses within the allocator's ranges.
func (a *Allocator) keysOf(svc *corev1.Service) []string {
	var keys []string
	if needsClusterIP(svc) && svc.Spec.ClusterIP != "" {
		if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil && a.cfg.ServiceCIDR.Contains(ip) {
			keys = append(keys, "clusterips/"+ip.String())
		}
	}
	if needsNodePorts(svc) {
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 && int(p.NodePort) >= a.cfg.NodePortMin && int(p.NodePort) <= a.cfg.NodePortMax {
				keys = append(keys, "nodeports/"+strconv.Itoa(int(p.NodePort)))
			}
		}
	}
	return keys
}

// RunRepair repairs the allocation records at once and then every
// opts.Interval until ctx ends, as kube-apiserver's ClusterIP and NodePort
// repair controllers do: records held by no Service are released (after
// opts.Grace), Services whose ClusterIP or NodePort has no record get one.
// Each fix is logged.
func (a *Allocator) RunRepair(ctx context.Context, services Services, opts RepairOptions) {
	if opts.Interval <= 0 {
		opts.Interval = 3 * time.Minute
	}
	if opts.Grace <= 0 {
		opts.Grace = time.Minute
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	leaked := map[string]time.Time{}
	t := time.NewTicker(opts.Interval)
	defer t.Stop()
	for {
		var err error
		if leaked, err = a.repairOnce(ctx, services, leaked, opts); err != nil && ctx.Err() == nil {
			a.cfg.Logger.Error("service allocation repair", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// repairOnce is one pass: read, plan, fix.
func (a *Allocator) repairOnce(ctx context.Context, services Services, leaked map[string]time.Time, opts RepairOptions) (map[string]time.Time, error) {
	prefix := a.cfg.Prefix + "/"
	// Records first: a Service created after this read is seen below, so
	// its record is not taken for missing-and-leaked at once.
	resp, err := a.cfg.Client.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return leaked, fmt.Errorf("read allocation records: %w", err)
	}
	records := make([]record, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		records = append(records, record{key: strings.TrimPrefix(string(kv.Key), prefix), value: string(kv.Value), rev: kv.ModRevision})
	}
	list, err := services.List(ctx, metav1.ListOptions{})
	if err != nil {
		return leaked, fmt.Errorf("list services: %w", err)
	}
	fixes, next := planRepair(records, list.Items, a.keysOf, leaked, opts.Clock.Now(), opts.Grace)
	for _, f := range fixes {
		a.apply(ctx, prefix, f)
	}
	return next, nil
}

// apply carries out one fix with a compare-and-swap on what was read, so a
// record changed since is left to the next pass.
func (a *Allocator) apply(ctx context.Context, prefix string, f fix) {
	log := a.cfg.Logger.With("key", f.key)
	var cmp clientv3.Cmp
	var op clientv3.Op
	switch f.action {
	case fixDuplicate:
		log.Error("service allocation used by several Services: left as it is", "services", f.services)
		return
	case fixRelease:
		cmp, op = clientv3.Compare(clientv3.ModRevision(prefix+f.key), "=", f.rev), clientv3.OpDelete(prefix+f.key)
	case fixReown:
		cmp, op = clientv3.Compare(clientv3.ModRevision(prefix+f.key), "=", f.rev), clientv3.OpPut(prefix+f.key, f.value)
	case fixRecord:
		cmp, op = clientv3.Compare(clientv3.CreateRevision(prefix+f.key), "=", 0), clientv3.OpPut(prefix+f.key, f.value)
	}
	resp, err := a.cfg.Client.Txn(ctx).If(cmp).Then(op).Commit()
	if err != nil {
		log.Error("service allocation repair", "action", f.action, "err", err)
		return
	}
	if !resp.Succeeded {
		log.Debug("service allocation changed while repairing: left to the next pass", "action", f.action)
		return
	}
	switch f.action {
	case fixRelease:
		log.Warn("service allocation repaired: released, held by no Service", "heldBy", f.old)
	case fixReown:
		log.Warn("service allocation repaired: re-recorded for the Service that uses it", "service", f.services[0], "heldBy", f.old)
	case fixRecord:
		log.Warn("service allocation repaired: recorded, the Service used it without a record", "service", f.services[0])
	}
}
