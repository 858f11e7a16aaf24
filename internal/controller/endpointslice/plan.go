package endpointslice

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/controller/podutil"
	"skiff.dev/skiff/internal/wellknown"
)

// MaxEndpointsPerSlice is how many endpoints one EndpointSlice holds at most
// (kube-controller-manager's --max-endpoints-per-slice default).
const MaxEndpointsPerSlice = 100

// Plan is what a Service's EndpointSlices need: slices to create, to update
// (the stored slice, changed) and to delete.
type Plan struct {
	Create, Update, Delete []*discoveryv1.EndpointSlice
	// MissingNodes is true when a pod was left out because its node is not
	// known (yet): the Service must be looked at again.
	MissingNodes bool
}

// Empty reports whether the plan writes nothing.
func (p Plan) Empty() bool { return len(p.Create)+len(p.Update)+len(p.Delete) == 0 }

// group is the endpoints of one address type reached on one set of ports.
type group struct {
	addressType discoveryv1.AddressType
	ports       []discoveryv1.EndpointPort
	endpoints   map[string]discoveryv1.Endpoint
}

// Desired plans the EndpointSlices of svc from the pods its selector
// matches (pods may include others; they are filtered here), the nodes those
// pods run on (by name) and the slices this controller already manages for
// svc. It keeps each endpoint in the slice that holds it, fills slices with
// room before it creates new ones, packs at most MaxEndpointsPerSlice
// endpoints per slice, and gives a Service with no endpoint one empty
// placeholder slice. A Service without a selector, or of type ExternalName,
// has none of this controller's slices.
func Desired(svc *corev1.Service, pods []*corev1.Pod, nodes map[string]*corev1.Node, existing []*discoveryv1.EndpointSlice) Plan {
	var plan Plan
	existing = slices.Clone(existing)
	slices.SortFunc(existing, func(a, b *discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	if svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		plan.Delete = existing
		return plan
	}
	groups := map[string]*group{}
	for _, pod := range pods {
		if pod.Namespace != svc.Namespace || !podutil.InEndpoints(pod, true) {
			continue
		}
		node, ok := nodes[pod.Spec.NodeName]
		if !ok {
			plan.MissingNodes = true
			continue
		}
		ports := endpointPorts(svc, pod)
		for _, at := range addressTypes(svc) {
			ip := podIP(pod, at)
			if ip == "" {
				continue
			}
			key := groupKey(at, ports)
			g := groups[key]
			if g == nil {
				g = &group{addressType: at, ports: ports, endpoints: map[string]discoveryv1.Endpoint{}}
				groups[key] = g
			}
			ep := Endpoint(svc, pod, node, ip)
			g.endpoints[endpointKey(&ep)] = ep
		}
	}

	labels := Labels(svc)
	owner := *metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))
	byGroup := map[string][]*discoveryv1.EndpointSlice{}
	var unmatched []*discoveryv1.EndpointSlice
	for _, s := range existing {
		key := groupKey(s.AddressType, s.Ports)
		if _, ok := groups[key]; ok {
			byGroup[key] = append(byGroup[key], s)
		} else {
			unmatched = append(unmatched, s)
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		planGroup(&plan, svc, labels, owner, groups[key], byGroup[key], &unmatched)
	}
	if len(groups) == 0 {
		// The placeholder: one slice with no ports and no endpoints, an
		// existing slice of the address type emptied when there is one.
		g := &group{addressType: addressTypes(svc)[0]}
		var old *discoveryv1.EndpointSlice
		for i, s := range unmatched {
			if s.AddressType == g.addressType {
				old = s
				unmatched = slices.Delete(unmatched, i, i+1)
				break
			}
		}
		want := build(svc, labels, owner, g, nil, old)
		switch {
		case old == nil:
			plan.Create = append(plan.Create, want)
		case changed(old, want):
			plan.Update = append(plan.Update, want)
		}
	}
	plan.Delete = append(plan.Delete, unmatched...)
	return plan
}

// planGroup places one group's endpoints into its existing slices and new
// ones; a new one is, when there is one of the group's address type, a
// spare slice (one whose ports no group has any more, such as the
// placeholder) updated in place rather than deleted and created.
func planGroup(plan *Plan, svc *corev1.Service, labels map[string]string, owner metav1.OwnerReference, g *group, existing []*discoveryv1.EndpointSlice, spare *[]*discoveryv1.EndpointSlice) {
	type fill struct {
		old       *discoveryv1.EndpointSlice
		endpoints []discoveryv1.Endpoint
	}
	placed := map[string]bool{}
	var fills []*fill
	for _, s := range existing {
		f := &fill{old: s}
		for i := range s.Endpoints {
			k := endpointKey(&s.Endpoints[i])
			if want, ok := g.endpoints[k]; ok && !placed[k] && len(f.endpoints) < MaxEndpointsPerSlice {
				f.endpoints = append(f.endpoints, want)
				placed[k] = true
			}
		}
		fills = append(fills, f)
	}
	var rest []string
	for k := range g.endpoints {
		if !placed[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, f := range fills {
		if len(f.endpoints) == 0 {
			continue // emptied: deleted below rather than refilled
		}
		for len(f.endpoints) < MaxEndpointsPerSlice && len(rest) > 0 {
			f.endpoints = append(f.endpoints, g.endpoints[rest[0]])
			rest = rest[1:]
		}
	}
	for _, f := range fills {
		if len(f.endpoints) == 0 && len(rest) > 0 {
			// An emptied slice of the same ports is reused for new endpoints.
			n := min(MaxEndpointsPerSlice, len(rest))
			for _, k := range rest[:n] {
				f.endpoints = append(f.endpoints, g.endpoints[k])
			}
			rest = rest[n:]
		}
	}
	for len(rest) > 0 {
		n := min(MaxEndpointsPerSlice, len(rest))
		f := &fill{}
		for i, s := range *spare {
			if s.AddressType == g.addressType {
				f.old = s
				*spare = slices.Delete(*spare, i, i+1)
				break
			}
		}
		for _, k := range rest[:n] {
			f.endpoints = append(f.endpoints, g.endpoints[k])
		}
		rest = rest[n:]
		fills = append(fills, f)
	}
	for _, f := range fills {
		if f.old != nil && len(f.endpoints) == 0 {
			plan.Delete = append(plan.Delete, f.old)
			continue
		}
		want := build(svc, labels, owner, g, f.endpoints, f.old)
		switch {
		case f.old == nil:
			plan.Create = append(plan.Create, want)
		case changed(f.old, want):
			plan.Update = append(plan.Update, want)
		}
	}
}

// build is the slice old becomes (a new one when old is nil) holding
// endpoints.
func build(svc *corev1.Service, labels map[string]string, owner metav1.OwnerReference, g *group, endpoints []discoveryv1.Endpoint, old *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	var s *discoveryv1.EndpointSlice
	if old != nil {
		s = old.DeepCopy()
	} else {
		s = &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{GenerateName: svc.Name + "-", Namespace: svc.Namespace},
			AddressType: g.addressType,
		}
	}
	s.Labels = labels
	s.OwnerReferences = []metav1.OwnerReference{owner}
	s.Ports = slices.Clone(g.ports)
	s.Endpoints = endpoints
	return s
}

// changed reports whether want differs from old in what this controller
// writes.
func changed(old, want *discoveryv1.EndpointSlice) bool {
	return !apiequality.Semantic.DeepEqual(old.Labels, want.Labels) ||
		!apiequality.Semantic.DeepEqual(old.OwnerReferences, want.OwnerReferences) ||
		!equalLen0(len(old.Ports), len(want.Ports), func() bool { return apiequality.Semantic.DeepEqual(old.Ports, want.Ports) }) ||
		!equalLen0(len(old.Endpoints), len(want.Endpoints), func() bool { return apiequality.Semantic.DeepEqual(old.Endpoints, want.Endpoints) })
}

// equalLen0 treats two empty lists (nil or not) as equal, else asks eq.
func equalLen0(a, b int, eq func() bool) bool {
	if a == 0 && b == 0 {
		return true
	}
	return eq()
}

// Labels are the labels of svc's slices: the Service's own, the service
// name, the manager and, for a headless Service, the headless mark.
func Labels(svc *corev1.Service) map[string]string {
	l := map[string]string{}
	for k, v := range svc.Labels {
		if k == discoveryv1.LabelServiceName || k == discoveryv1.LabelManagedBy || k == corev1.IsHeadlessService {
			continue
		}
		l[k] = v
	}
	l[discoveryv1.LabelServiceName] = svc.Name
	l[discoveryv1.LabelManagedBy] = wellknown.EndpointSliceControllerName
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[corev1.IsHeadlessService] = ""
	}
	return l
}

// Endpoint is the endpoint pod gives svc at ip, on node.
func Endpoint(svc *corev1.Service, pod *corev1.Pod, node *corev1.Node, ip string) discoveryv1.Endpoint {
	terminating := pod.DeletionTimestamp != nil
	serving := podutil.IsReady(pod)
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses:  []string{ip},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		ep.NodeName = new(pod.Spec.NodeName)
	}
	if node != nil {
		if zone, ok := node.Labels[corev1.LabelTopologyZone]; ok {
			ep.Zone = &zone
		}
	}
	if HasHostname(pod, svc) {
		ep.Hostname = new(pod.Spec.Hostname)
	}
	return ep
}

// HasHostname reports whether the pod's endpoints of svc carry its
// hostname: it has one and its subdomain is the Service.
func HasHostname(pod *corev1.Pod, svc *corev1.Service) bool {
	return pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace
}

// endpointPorts are the Service's ports resolved on pod; a port whose
// target the pod lacks is left out.
func endpointPorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	var ports []discoveryv1.EndpointPort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		n, ok := podutil.FindPort(pod, sp)
		if !ok {
			continue
		}
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		ports = append(ports, discoveryv1.EndpointPort{Name: new(sp.Name), Port: new(n), Protocol: &proto, AppProtocol: sp.AppProtocol})
	}
	return ports
}

// addressTypes are the address types of svc's IP families (IPv4 when it
// names none).
func addressTypes(svc *corev1.Service) []discoveryv1.AddressType {
	var out []discoveryv1.AddressType
	for _, f := range svc.Spec.IPFamilies {
		switch f {
		case corev1.IPv4Protocol:
			out = append(out, discoveryv1.AddressTypeIPv4)
		case corev1.IPv6Protocol:
			out = append(out, discoveryv1.AddressTypeIPv6)
		}
	}
	if len(out) == 0 {
		out = append(out, discoveryv1.AddressTypeIPv4)
	}
	return out
}

// podIP is the pod's IP of the address type, or "".
func podIP(pod *corev1.Pod, at discoveryv1.AddressType) string {
	if at == discoveryv1.AddressTypeIPv6 {
		return podutil.IPOf(pod, corev1.IPv6Protocol)
	}
	return podutil.IPOf(pod, corev1.IPv4Protocol)
}

// groupKey names an address type and a resolved port set.
func groupKey(at discoveryv1.AddressType, ports []discoveryv1.EndpointPort) string {
	var b strings.Builder
	b.WriteString(string(at))
	for _, p := range ports {
		b.WriteByte('|')
		if p.Name != nil {
			b.WriteString(*p.Name)
		}
		b.WriteByte('/')
		if p.Protocol != nil {
			b.WriteString(string(*p.Protocol))
		}
		b.WriteByte('/')
		if p.Port != nil {
			b.WriteString(strconv.Itoa(int(*p.Port)))
		}
		b.WriteByte('/')
		if p.AppProtocol != nil {
			b.WriteString(*p.AppProtocol)
		}
	}
	return b.String()
}

// endpointKey identifies an endpoint across syncs: its address and pod.
func endpointKey(ep *discoveryv1.Endpoint) string {
	k := strings.Join(ep.Addresses, ",")
	if ep.TargetRef != nil {
		k += "/" + ep.TargetRef.Name
	}
	return k
}
