package endpoints

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	"skiff.dev/skiff/internal/controller/podutil"
	"skiff.dev/skiff/internal/wellknown"
)

// MaxCapacity is how many addresses an Endpoints object holds at most; past
// it the addresses are truncated and the object is annotated
// corev1.EndpointsOverCapacity=truncated.
const MaxCapacity = 1000

// Subsets are the Endpoints subsets svc's pods give it: every pod that has
// an IP, has not finished and is not terminating (terminating pods too when
// publishNotReadyAddresses), ready pods (or all, with
// publishNotReadyAddresses) as addresses and the others as
// notReadyAddresses, on the Service's ports resolved per pod, repacked.
func Subsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	var subsets []corev1.EndpointSubset
	family := corev1.IPFamily("")
	if len(svc.Spec.IPFamilies) > 0 {
		family = svc.Spec.IPFamilies[0]
	}
	for _, pod := range pods {
		if pod.Namespace != svc.Namespace || !podutil.InEndpoints(pod, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		ip := podutil.IPOf(pod, family)
		if ip == "" {
			continue
		}
		addr := corev1.EndpointAddress{
			IP:        ip,
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		}
		if pod.Spec.NodeName != "" {
			addr.NodeName = new(pod.Spec.NodeName)
		}
		if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name {
			addr.Hostname = pod.Spec.Hostname
		}
		ready := svc.Spec.PublishNotReadyAddresses || podutil.IsReady(pod)
		add := func(ports []corev1.EndpointPort) {
			if ready {
				subsets = append(subsets, corev1.EndpointSubset{Addresses: []corev1.EndpointAddress{addr}, Ports: ports})
			} else {
				subsets = append(subsets, corev1.EndpointSubset{NotReadyAddresses: []corev1.EndpointAddress{addr}, Ports: ports})
			}
		}
		if len(svc.Spec.Ports) == 0 && svc.Spec.ClusterIP == corev1.ClusterIPNone {
			add(nil) // a headless Service without ports still lists its pods
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			n, ok := podutil.FindPort(pod, sp)
			if !ok {
				continue
			}
			add([]corev1.EndpointPort{{Name: sp.Name, Port: n, Protocol: cmp.Or(sp.Protocol, corev1.ProtocolTCP), AppProtocol: sp.AppProtocol}})
		}
	}
	return Repack(subsets)
}

// addrKey identifies an address: its IP and the object it points at.
type addrKey struct {
	ip  string
	uid types.UID
}

// Repack regroups subsets into the fewest subsets: addresses reached on the
// same ports share a subset; an address ready on a port in one subset and
// not ready in another counts as ready. Addresses, ports and subsets come
// out sorted, so that equal contents give equal objects.
func Repack(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	addrs := map[addrKey]corev1.EndpointAddress{}
	ports := map[string]*corev1.EndpointPort{}
	byPort := map[string]map[addrKey]bool{} // port key -> address -> ready
	note := func(pk string, list []corev1.EndpointAddress, ready bool) {
		for _, a := range list {
			k := keyOf(&a)
			if _, ok := addrs[k]; !ok {
				addrs[k] = a
			}
			if byPort[pk] == nil {
				byPort[pk] = map[addrKey]bool{}
			}
			byPort[pk][k] = byPort[pk][k] || ready
		}
	}
	for i := range subsets {
		ss := &subsets[i]
		pks := []string{""} // "": the sentinel of a subset without ports
		if len(ss.Ports) > 0 {
			pks = pks[:0]
			for j := range ss.Ports {
				pk := portKey(&ss.Ports[j])
				ports[pk] = &ss.Ports[j]
				pks = append(pks, pk)
			}
		}
		for _, pk := range pks {
			note(pk, ss.Addresses, true)
			note(pk, ss.NotReadyAddresses, false)
		}
	}
	// Ports that reach the same addresses (with the same readiness) share a
	// subset.
	type set struct {
		addrs map[addrKey]bool
		ports []corev1.EndpointPort
	}
	bySig := map[string]*set{}
	for _, pk := range slices.Sorted(maps.Keys(byPort)) {
		sig := signature(byPort[pk])
		s := bySig[sig]
		if s == nil {
			s = &set{addrs: byPort[pk]}
			bySig[sig] = s
		}
		if p := ports[pk]; p != nil {
			s.ports = append(s.ports, *p)
		}
	}
	var out []corev1.EndpointSubset
	for _, sig := range slices.Sorted(maps.Keys(bySig)) {
		s := bySig[sig]
		var ss corev1.EndpointSubset
		for _, k := range sortedKeys(s.addrs) {
			if s.addrs[k] {
				ss.Addresses = append(ss.Addresses, addrs[k])
			} else {
				ss.NotReadyAddresses = append(ss.NotReadyAddresses, addrs[k])
			}
		}
		ss.Ports = s.ports
		out = append(out, ss)
	}
	return out
}

func keyOf(a *corev1.EndpointAddress) addrKey {
	k := addrKey{ip: a.IP}
	if a.TargetRef != nil {
		k.uid = a.TargetRef.UID
	}
	return k
}

func portKey(p *corev1.EndpointPort) string {
	app := ""
	if p.AppProtocol != nil {
		app = *p.AppProtocol
	}
	return strings.Join([]string{p.Name, strconv.Itoa(int(p.Port)), string(p.Protocol), app}, "/") + "/"
}

func sortedKeys(m map[addrKey]bool) []addrKey {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b addrKey) int {
		return cmp.Or(cmp.Compare(a.ip, b.ip), cmp.Compare(a.uid, b.uid))
	})
	return keys
}

func signature(m map[addrKey]bool) string {
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		b.WriteString(k.ip)
		b.WriteByte('/')
		b.WriteString(string(k.uid))
		b.WriteByte('/')
		b.WriteString(strconv.FormatBool(m[k]))
		b.WriteByte(';')
	}
	return b.String()
}

// Truncate cuts subsets down to MaxCapacity addresses, as
// kube-controller-manager does: when the ready addresses alone exceed it,
// only ready addresses are kept; otherwise all ready ones and as many not
// ready ones as fit; each subset keeps its share in proportion to its size.
// A subset left with no address is dropped. It returns the subsets and
// whether anything was cut.
func Truncate(subsets []corev1.EndpointSubset) ([]corev1.EndpointSubset, bool) {
	var ready, notReady int
	for _, s := range subsets {
		ready += len(s.Addresses)
		notReady += len(s.NotReadyAddresses)
	}
	if ready+notReady <= MaxCapacity {
		return subsets, false
	}
	truncReady := ready > MaxCapacity
	budget, total := MaxCapacity-ready, notReady
	if truncReady {
		budget, total = MaxCapacity, ready
	}
	left := budget
	for i := range subsets {
		s := &subsets[i]
		n := len(s.NotReadyAddresses)
		if truncReady {
			n = len(s.Addresses)
		}
		allowed := min(int(math.Ceil(float64(n)*float64(budget)/float64(total))), left)
		left -= allowed
		if truncReady {
			s.NotReadyAddresses = nil
			s.Addresses = s.Addresses[:min(allowed, len(s.Addresses))]
		} else {
			s.NotReadyAddresses = s.NotReadyAddresses[:min(allowed, len(s.NotReadyAddresses))]
		}
	}
	subsets = slices.DeleteFunc(subsets, func(s corev1.EndpointSubset) bool { return len(s.Addresses)+len(s.NotReadyAddresses) == 0 })
	return subsets, true
}

// Desired is the Endpoints object of svc given its pods, built on current
// (the stored one; nil when there is none), and whether it differs from
// current.
func Desired(svc *corev1.Service, pods []*corev1.Pod, current *corev1.Endpoints) (*corev1.Endpoints, bool) {
	subsets, truncated := Truncate(Subsets(svc, pods))
	var ep *corev1.Endpoints
	if current != nil {
		ep = current.DeepCopy()
	} else {
		ep = &corev1.Endpoints{}
		ep.Name, ep.Namespace = svc.Name, svc.Namespace
	}
	ep.Labels = maps.Clone(svc.Labels)
	if ep.Labels == nil {
		ep.Labels = map[string]string{}
	}
	ep.Labels[wellknown.EndpointsManagedByLabel] = wellknown.EndpointsControllerName
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		ep.Labels[corev1.IsHeadlessService] = ""
	} else {
		delete(ep.Labels, corev1.IsHeadlessService)
	}
	if truncated {
		if ep.Annotations == nil {
			ep.Annotations = map[string]string{}
		}
		ep.Annotations[corev1.EndpointsOverCapacity] = "truncated"
	} else {
		delete(ep.Annotations, corev1.EndpointsOverCapacity)
	}
	ep.Subsets = subsets
	if current == nil {
		return ep, true
	}
	same := apiequality.Semantic.DeepEqual(current.Labels, ep.Labels) &&
		current.Annotations[corev1.EndpointsOverCapacity] == ep.Annotations[corev1.EndpointsOverCapacity] &&
		((len(current.Subsets) == 0 && len(ep.Subsets) == 0) || apiequality.Semantic.DeepEqual(current.Subsets, ep.Subsets))
	return ep, !same
}
