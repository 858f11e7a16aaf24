package proxy

import (
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// defaultAffinityTimeout is Kubernetes' default
// sessionAffinityConfig.clientIP.timeoutSeconds (3 hours).
const defaultAffinityTimeout = 10800

// portKey names one port of one Service: namespace/name/protocol/portName.
type portKey struct {
	Namespace, Name string
	Protocol        corev1.Protocol
	PortName        string
}

func (k portKey) String() string {
	return k.Namespace + "/" + k.Name + "/" + strings.ToLower(string(k.Protocol)) + "/" + k.PortName
}

// endpoint is one backend of a service port.
type endpoint struct {
	IP   netip.Addr
	Port int32
	// Local is true when the endpoint runs on this node.
	Local bool
	// Ready endpoints take traffic; Serving and Terminating ones only when
	// no endpoint is ready.
	Ready, Serving, Terminating bool
}

// servicePort is everything the proxy needs of one port of one Service.
type servicePort struct {
	Key       portKey
	ClusterIP netip.Addr
	Port      int32
	NodePort  int32
	// ExternalIPs are spec.externalIPs and the Service's load balancer
	// ingress IPs.
	ExternalIPs []netip.Addr
	// AffinitySeconds > 0 means sessionAffinity ClientIP.
	AffinitySeconds     int32
	InternalLocal       bool
	ExternalLocal       bool
	HealthCheckNodePort int32
	Endpoints           []endpoint
}

// hasExternal says whether the port is reachable from outside the cluster
// network (NodePort, externalIPs, load balancer).
func (sp *servicePort) hasExternal() bool {
	return sp.NodePort != 0 || len(sp.ExternalIPs) > 0
}

// servicePortsFor computes the programmable ports of svc from its
// EndpointSlices, for the node named nodeName. Services that the proxy does
// not program (headless, ExternalName, IPv6-only) give none.
func servicePortsFor(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, nodeName string) []servicePort {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	cip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil || !cip.Is4() {
		return nil // headless ("None"), unset, or IPv6
	}
	var ext []netip.Addr
	for _, s := range svc.Spec.ExternalIPs {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			ext = append(ext, a)
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(ing.IP); err == nil && a.Is4() {
				ext = append(ext, a)
			}
		}
	}
	ext = dedupAddrs(ext)
	var affinity int32
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		affinity = defaultAffinityTimeout
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			affinity = *c.ClientIP.TimeoutSeconds
		}
	}
	externalLocal := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal &&
		(svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer)
	var out []servicePort
	for _, p := range svc.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		sp := servicePort{
			Key:             portKey{Namespace: svc.Namespace, Name: svc.Name, Protocol: proto, PortName: p.Name},
			ClusterIP:       cip,
			Port:            p.Port,
			ExternalIPs:     ext,
			AffinitySeconds: affinity,
			InternalLocal: svc.Spec.InternalTrafficPolicy != nil &&
				*svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
			ExternalLocal: externalLocal,
		}
		if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			sp.NodePort = p.NodePort
		}
		if externalLocal {
			sp.HealthCheckNodePort = svc.Spec.HealthCheckNodePort
		}
		sp.Endpoints = endpointsFor(slices, p.Name, proto, nodeName)
		out = append(out, sp)
	}
	return out
}

// endpointsFor collects the IPv4 endpoints of one named port across slices,
// one per address and port, sorted.
func endpointsFor(slices []*discoveryv1.EndpointSlice, portName string, proto corev1.Protocol, nodeName string) []endpoint {
	seen := map[netip.AddrPort]bool{}
	var out []endpoint
	for _, sl := range slices {
		if sl.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		var port int32
		found := false
		for _, p := range sl.Ports {
			pn := ""
			if p.Name != nil {
				pn = *p.Name
			}
			pp := corev1.ProtocolTCP
			if p.Protocol != nil {
				pp = *p.Protocol
			}
			if pn == portName && pp == proto && p.Port != nil {
				port, found = *p.Port, true
				break
			}
		}
		if !found {
			continue
		}
		for _, e := range sl.Endpoints {
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			serving := ready
			if e.Conditions.Serving != nil {
				serving = *e.Conditions.Serving
			}
			terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			local := e.NodeName != nil && *e.NodeName == nodeName
			for _, s := range e.Addresses {
				a, err := netip.ParseAddr(s)
				if err != nil || !a.Is4() {
					continue
				}
				ap := netip.AddrPortFrom(a, uint16(port))
				if seen[ap] {
					continue
				}
				seen[ap] = true
				out = append(out, endpoint{IP: a, Port: port, Local: local, Ready: ready, Serving: serving, Terminating: terminating})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].IP.Compare(out[j].IP); c != 0 {
			return c < 0
		}
		return out[i].Port < out[j].Port
	})
	return out
}

// usable picks the endpoints that take traffic among eps: the ready ones,
// or, when none is ready, the serving and terminating ones (as kube-proxy
// does, so that a rollout's last pods keep answering while they drain).
func usable(eps []endpoint, localOnly bool) []endpoint {
	var ready, fallback []endpoint
	for _, e := range eps {
		if localOnly && !e.Local {
			continue
		}
		switch {
		case e.Ready:
			ready = append(ready, e)
		case e.Serving && e.Terminating:
			fallback = append(fallback, e)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return fallback
}

func dedupAddrs(in []netip.Addr) []netip.Addr {
	sort.Slice(in, func(i, j int) bool { return in[i].Less(in[j]) })
	out := in[:0]
	for i, a := range in {
		if i == 0 || a != in[i-1] {
			out = append(out, a)
		}
	}
	return out
}
