package endpointslicemirroring

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/wellknown"
)

// MaxEndpointsPerSlice is how many endpoints one mirrored slice holds at
// most; MaxEndpointsPerSubset is how many addresses of one subset are
// mirrored at most (kube-controller-manager's
// --mirroring-max-endpoints-per-subset).
const (
	MaxEndpointsPerSlice  = 100
	MaxEndpointsPerSubset = 1000
)

// Plan is what an Endpoints object's mirrored slices need.
type Plan struct {
	Create, Update, Delete []*discoveryv1.EndpointSlice
}

// Empty reports whether the plan writes nothing.
func (p Plan) Empty() bool { return len(p.Create)+len(p.Update)+len(p.Delete) == 0 }

// ShouldMirror reports whether ep (nil when there is none) of svc (nil
// when there is none) is mirrored: the Service exists and has no selector,
// and ep is not labelled endpointslice.kubernetes.io/skip-mirror=true.
func ShouldMirror(svc *corev1.Service, ep *corev1.Endpoints) bool {
	return svc != nil && ep != nil && svc.Spec.Selector == nil && ep.Labels[discoveryv1.LabelSkipMirror] != "true"
}

type group struct {
	addressType discoveryv1.AddressType
	ports       []discoveryv1.EndpointPort
	endpoints   []discoveryv1.Endpoint
}

// Desired plans the slices mirroring ep given the mirrored slices that
// exist (existing); with mirror false they all go. Endpoints are grouped
// by address type and ports, at most MaxEndpointsPerSlice a slice; an
// existing slice of the same address type and ports is updated in place.
func Desired(ep *corev1.Endpoints, mirror bool, existing []*discoveryv1.EndpointSlice) Plan {
	var plan Plan
	existing = slices.Clone(existing)
	slices.SortFunc(existing, func(a, b *discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	if !mirror {
		plan.Delete = existing
		return plan
	}
	groups := map[string]*group{}
	for _, ss := range ep.Subsets {
		ports := make([]discoveryv1.EndpointPort, 0, len(ss.Ports))
		for _, p := range ss.Ports {
			ports = append(ports, discoveryv1.EndpointPort{Name: new(p.Name), Port: new(p.Port), Protocol: new(cmp.Or(p.Protocol, corev1.ProtocolTCP)), AppProtocol: p.AppProtocol})
		}
		slices.SortFunc(ports, func(a, b discoveryv1.EndpointPort) int { return strings.Compare(portString(&a), portString(&b)) })
		n := 0
		add := func(addrs []corev1.EndpointAddress, ready bool) {
			for _, a := range addrs {
				if n >= MaxEndpointsPerSubset {
					return
				}
				ip, err := netip.ParseAddr(a.IP)
				if err != nil {
					continue
				}
				at := discoveryv1.AddressTypeIPv4
				if !ip.Is4() {
					at = discoveryv1.AddressTypeIPv6
				}
				key := groupKey(at, ports)
				g := groups[key]
				if g == nil {
					g = &group{addressType: at, ports: ports}
					groups[key] = g
				}
				e := discoveryv1.Endpoint{Addresses: []string{a.IP}, Conditions: discoveryv1.EndpointConditions{Ready: new(ready)}}
				if a.Hostname != "" {
					e.Hostname = new(a.Hostname)
				}
				if a.NodeName != nil {
					e.NodeName = new(*a.NodeName)
				}
				if a.TargetRef != nil {
					e.TargetRef = a.TargetRef.DeepCopy()
				}
				g.endpoints = append(g.endpoints, e)
				n++
			}
		}
		add(ss.Addresses, true)
		add(ss.NotReadyAddresses, false)
	}
	labels, annotations := meta(ep)
	owner := *metav1.NewControllerRef(ep, corev1.SchemeGroupVersion.WithKind("Endpoints"))
	byGroup := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		k := groupKey(s.AddressType, s.Ports)
		byGroup[k] = append(byGroup[k], s)
	}
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		g := groups[key]
		olds := byGroup[key]
		delete(byGroup, key)
		for i := 0; i < len(g.endpoints); i += MaxEndpointsPerSlice {
			chunk := g.endpoints[i:min(i+MaxEndpointsPerSlice, len(g.endpoints))]
			var old *discoveryv1.EndpointSlice
			if len(olds) > 0 {
				old, olds = olds[0], olds[1:]
			}
			want := &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{GenerateName: ep.Name + "-", Namespace: ep.Namespace},
				AddressType: g.addressType,
			}
			if old != nil {
				want = old.DeepCopy()
			}
			want.Labels, want.Annotations = maps.Clone(labels), maps.Clone(annotations)
			want.OwnerReferences = []metav1.OwnerReference{owner}
			want.Ports = slices.Clone(g.ports)
			want.Endpoints = slices.Clone(chunk)
			switch {
			case old == nil:
				plan.Create = append(plan.Create, want)
			case changed(old, want):
				plan.Update = append(plan.Update, want)
			}
		}
		plan.Delete = append(plan.Delete, olds...)
	}
	for _, key := range slices.Sorted(maps.Keys(byGroup)) {
		plan.Delete = append(plan.Delete, byGroup[key]...)
	}
	return plan
}

// meta are the labels and annotations of ep's mirrored slices: ep's own
// (less the last-applied configuration and the trigger time), the service
// name and this controller as the manager.
func meta(ep *corev1.Endpoints) (labels, annotations map[string]string) {
	labels = maps.Clone(ep.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[discoveryv1.LabelServiceName] = ep.Name
	labels[discoveryv1.LabelManagedBy] = wellknown.EndpointSliceMirroringControllerName
	for k, v := range ep.Annotations {
		if k == corev1.LastAppliedConfigAnnotation || k == corev1.EndpointsLastChangeTriggerTime {
			continue
		}
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[k] = v
	}
	return labels, annotations
}

func changed(old, want *discoveryv1.EndpointSlice) bool {
	eq := func(a, b any, la, lb int) bool { return (la == 0 && lb == 0) || apiequality.Semantic.DeepEqual(a, b) }
	return !apiequality.Semantic.DeepEqual(old.Labels, want.Labels) ||
		!eq(old.Annotations, want.Annotations, len(old.Annotations), len(want.Annotations)) ||
		!apiequality.Semantic.DeepEqual(old.OwnerReferences, want.OwnerReferences) ||
		!eq(old.Ports, want.Ports, len(old.Ports), len(want.Ports)) ||
		!eq(old.Endpoints, want.Endpoints, len(old.Endpoints), len(want.Endpoints))
}

func portString(p *discoveryv1.EndpointPort) string {
	var parts []string
	for _, s := range []*string{p.Name, (*string)(p.Protocol), p.AppProtocol} {
		if s == nil {
			parts = append(parts, "")
		} else {
			parts = append(parts, *s)
		}
	}
	port := ""
	if p.Port != nil {
		port = strconv.Itoa(int(*p.Port))
	}
	return strings.Join(append(parts, port), "/")
}

func groupKey(at discoveryv1.AddressType, ports []discoveryv1.EndpointPort) string {
	var b strings.Builder
	b.WriteString(string(at))
	for i := range ports {
		b.WriteByte('|')
		b.WriteString(portString(&ports[i]))
	}
	return b.String()
}
