package dns

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// DefaultTTL is the TTL of every record the resolver makes, in seconds:
// CoreDNS' kubernetes plugin default.
const DefaultTTL = 5

// SchemaVersion is the DNS specification version the dns-version TXT record
// announces.
const SchemaVersion = "1.1.0"

// maxCNAMEChain bounds how many ExternalName CNAMEs inside the cluster
// domain one answer follows.
const maxCNAMEChain = 8

// Store is what the resolver reads: the cluster's Services and the
// EndpointSlices of each. Objects it returns are not modified.
type Store interface {
	// Service returns the Service namespace/name, nil if there is none.
	Service(namespace, name string) *corev1.Service
	// HasServices says whether namespace has any Service.
	HasServices(namespace string) bool
	// EndpointSlices returns the slices labelled with the Service's name
	// (kubernetes.io/service-name) in namespace.
	EndpointSlices(namespace, service string) []*discoveryv1.EndpointSlice
	// ServicesByIP returns the Services with ip among their ClusterIPs.
	ServicesByIP(ip string) []*corev1.Service
	// EndpointSlicesByIP returns the slices with an endpoint address ip.
	EndpointSlicesByIP(ip string) []*discoveryv1.EndpointSlice
}

// Result is the resolver's answer to one question.
type Result struct {
	// Rcode is dns.RcodeSuccess (with or without answers) or
	// dns.RcodeNameError (NXDOMAIN).
	Rcode int
	// Authoritative is set for names the cluster domain holds.
	Authoritative bool
	// Answer, Ns and Extra are the sections of the reply. Ns holds the SOA
	// of a negative answer.
	Answer, Ns, Extra []dns.RR
	// Forward says the name is not the cluster's: ask the upstream servers.
	Forward bool
	// Chase, when set, is the target of an ExternalName CNAME outside the
	// cluster domain: the upstream servers' records of it for the same
	// question type are appended to Answer.
	Chase string
}

// Resolver answers questions about one cluster domain.
type Resolver struct {
	domain string // lower case, fully qualified: "cluster.local."
	ttl    uint32
}

// NewResolver returns a resolver for domain (e.g. "cluster.local") with
// records of ttl seconds (DefaultTTL when 0).
func NewResolver(domain string, ttl uint32) *Resolver {
	if ttl == 0 {
		ttl = DefaultTTL
	}
	return &Resolver{domain: dns.Fqdn(strings.ToLower(domain)), ttl: ttl}
}

// Domain returns the cluster domain, fully qualified.
func (r *Resolver) Domain() string { return r.domain }

// Answer computes the reply to q from s. It does no I/O.
func (r *Resolver) Answer(q dns.Question, s Store) Result {
	name := strings.ToLower(dns.Fqdn(q.Name))
	if q.Qtype == dns.TypePTR && (dns.IsSubDomain("in-addr.arpa.", name) || dns.IsSubDomain("ip6.arpa.", name)) {
		return r.reverse(q, name, s)
	}
	if !dns.IsSubDomain(r.domain, name) {
		return Result{Forward: true}
	}
	res := r.answerIn(q.Name, name, q.Qtype, s, 0)
	res.Authoritative = true
	if len(res.Answer) == 0 && res.Chase == "" {
		res.Ns = []dns.RR{r.soa()}
	}
	return res
}

// answerIn answers qtype for name (lower case) inside the cluster domain;
// owner is the name the records carry (the question's spelling).
func (r *Resolver) answerIn(owner, name string, qtype uint16, s Store, depth int) Result {
	var labels []string
	if name != r.domain {
		labels = strings.Split(strings.TrimSuffix(name, "."+r.domain), ".")
	}
	n := len(labels)
	switch {
	case n == 0:
		if qtype == dns.TypeSOA {
			return Result{Answer: []dns.RR{r.soa()}}
		}
		return nodata()
	case n == 1 && labels[0] == "dns-version":
		if qtype == dns.TypeTXT {
			return Result{Answer: []dns.RR{&dns.TXT{Hdr: r.hdr(owner, dns.TypeTXT), Txt: []string{SchemaVersion}}}}
		}
		return nodata()
	case labels[n-1] == "svc":
		return r.service(owner, labels[:n-1], qtype, s, depth)
	case labels[n-1] == "pod":
		return r.pod(owner, labels[:n-1], qtype)
	}
	return nxdomain()
}

// service answers names under svc.<domain>; labels are those before "svc".
func (r *Resolver) service(owner string, labels []string, qtype uint16, s Store, depth int) Result {
	switch len(labels) {
	case 0: // svc.<domain>
		return nodata()
	case 1: // <ns>.svc.<domain>
		if s.HasServices(labels[0]) {
			return nodata()
		}
		return nxdomain()
	case 2: // <svc>.<ns>.svc.<domain>
		svc := s.Service(labels[1], labels[0])
		if svc == nil {
			return nxdomain()
		}
		return r.serviceRecords(owner, svc, qtype, s, depth)
	case 3: // <hostname>.<svc>.<ns>.svc.<domain>, or _<proto>.<svc>... (empty non-terminal)
		svc := s.Service(labels[2], labels[1])
		if svc == nil {
			return nxdomain()
		}
		if strings.HasPrefix(labels[0], "_") {
			for _, p := range svc.Spec.Ports {
				if p.Name != "" && "_"+protocolLabel(p.Protocol) == labels[0] {
					return nodata()
				}
			}
			return nxdomain()
		}
		if !isHeadless(svc) {
			return nxdomain()
		}
		var addrs []netip.Addr
		for _, ep := range readyEndpoints(svc, s.EndpointSlices(svc.Namespace, svc.Name)) {
			if ep.hostname == labels[0] && !slices.Contains(addrs, ep.addr) {
				addrs = append(addrs, ep.addr)
			}
		}
		if len(addrs) == 0 {
			return nxdomain()
		}
		return Result{Answer: r.addressRecords(owner, addrs, qtype)}
	case 4: // _<port>._<proto>.<svc>.<ns>.svc.<domain>
		if !strings.HasPrefix(labels[0], "_") || !strings.HasPrefix(labels[1], "_") {
			return nxdomain()
		}
		svc := s.Service(labels[3], labels[2])
		if svc == nil {
			return nxdomain()
		}
		return r.srv(owner, svc, labels[0][1:], labels[1][1:], qtype, s)
	}
	return nxdomain()
}

// serviceRecords answers <svc>.<ns>.svc.<domain>.
func (r *Resolver) serviceRecords(owner string, svc *corev1.Service, qtype uint16, s Store, depth int) Result {
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		target := dns.Fqdn(strings.ToLower(svc.Spec.ExternalName))
		if svc.Spec.ExternalName == "" {
			return nxdomain()
		}
		cname := &dns.CNAME{Hdr: r.hdr(owner, dns.TypeCNAME), Target: target}
		res := Result{Answer: []dns.RR{cname}}
		if qtype == dns.TypeCNAME {
			return res
		}
		if !dns.IsSubDomain(r.domain, target) {
			res.Chase = target
			return res
		}
		if depth >= maxCNAMEChain {
			return res
		}
		next := r.answerIn(target, target, qtype, s, depth+1)
		res.Answer = append(res.Answer, next.Answer...)
		res.Extra = append(res.Extra, next.Extra...)
		res.Chase = next.Chase
		return res
	case isHeadless(svc):
		eps := readyEndpoints(svc, s.EndpointSlices(svc.Namespace, svc.Name))
		if len(eps) == 0 {
			return nxdomain()
		}
		addrs := make([]netip.Addr, 0, len(eps))
		for _, ep := range eps {
			if !slices.Contains(addrs, ep.addr) {
				addrs = append(addrs, ep.addr)
			}
		}
		return Result{Answer: r.addressRecords(owner, addrs, qtype)}
	default:
		var buf [2]netip.Addr // a ClusterIP per IP family: no allocation
		return Result{Answer: r.addressRecords(owner, appendClusterIPs(buf[:0], svc), qtype)}
	}
}

// srv answers _<port>._<proto>.<svc>.<ns>.svc.<domain>.
func (r *Resolver) srv(owner string, svc *corev1.Service, portName, proto string, qtype uint16, s Store) Result {
	var port *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.Name != "" && strings.EqualFold(p.Name, portName) && protocolLabel(p.Protocol) == proto {
			port = p
			break
		}
	}
	if port == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nxdomain()
	}
	svcName := dns.Fqdn(svc.Name + "." + svc.Namespace + ".svc." + r.domain)
	type target struct {
		name  string
		port  uint16
		addrs []netip.Addr
	}
	var targets []target
	if !isHeadless(svc) {
		targets = append(targets, target{svcName, uint16(port.Port), clusterIPs(svc)})
	} else {
		byName := map[string]int{}
		for _, ep := range readyEndpoints(svc, s.EndpointSlices(svc.Namespace, svc.Name)) {
			num, ok := ep.port(port.Name, port.Protocol)
			if !ok {
				continue
			}
			name := ep.hostname + "." + svcName
			key := name + "/" + strconv.Itoa(int(num))
			if i, ok := byName[key]; ok {
				if !slices.Contains(targets[i].addrs, ep.addr) {
					targets[i].addrs = append(targets[i].addrs, ep.addr)
				}
				continue
			}
			byName[key] = len(targets)
			targets = append(targets, target{name, num, []netip.Addr{ep.addr}})
		}
	}
	if len(targets) == 0 {
		return nxdomain()
	}
	if qtype != dns.TypeSRV && qtype != dns.TypeANY {
		return nodata()
	}
	var res Result
	weight := uint16(max(1, 100/len(targets)))
	for _, t := range targets {
		res.Answer = append(res.Answer, &dns.SRV{Hdr: r.hdr(owner, dns.TypeSRV), Priority: 0, Weight: weight, Port: t.port, Target: t.name})
		res.Extra = append(res.Extra, r.addressRecords(t.name, t.addrs, dns.TypeANY)...)
	}
	return res
}

// pod answers <a-b-c-d>.<ns>.pod.<domain>; labels are those before "pod".
func (r *Resolver) pod(owner string, labels []string, qtype uint16) Result {
	switch len(labels) {
	case 0, 1: // pod.<domain>, <ns>.pod.<domain>
		return nodata()
	case 2:
		addr, ok := parseDashed(labels[0])
		if !ok {
			return nxdomain()
		}
		return Result{Answer: r.addressRecords(owner, []netip.Addr{addr}, qtype)}
	}
	return nxdomain()
}

// reverse answers PTR questions for ClusterIPs and ready endpoint addresses;
// other addresses are forwarded.
func (r *Resolver) reverse(q dns.Question, name string, s Store) Result {
	addr, ok := parseReverse(name)
	if !ok {
		return Result{Forward: true}
	}
	ip := addr.String()
	var res Result
	for _, svc := range s.ServicesByIP(ip) {
		res.Answer = append(res.Answer, &dns.PTR{Hdr: r.hdr(q.Name, dns.TypePTR), Ptr: dns.Fqdn(svc.Name + "." + svc.Namespace + ".svc." + r.domain)})
	}
	for _, slice := range s.EndpointSlicesByIP(ip) {
		svcName := slice.Labels[discoveryv1.LabelServiceName]
		svc := s.Service(slice.Namespace, svcName)
		if svc == nil || !isHeadless(svc) {
			continue
		}
		for _, ep := range readyEndpoints(svc, []*discoveryv1.EndpointSlice{slice}) {
			if ep.addr != addr {
				continue
			}
			ptr := dns.Fqdn(ep.hostname + "." + svc.Name + "." + svc.Namespace + ".svc." + r.domain)
			if !slices.ContainsFunc(res.Answer, func(rr dns.RR) bool { return rr.(*dns.PTR).Ptr == ptr }) {
				res.Answer = append(res.Answer, &dns.PTR{Hdr: r.hdr(q.Name, dns.TypePTR), Ptr: ptr})
			}
		}
	}
	if len(res.Answer) == 0 {
		return Result{Forward: true}
	}
	res.Authoritative = true
	return res
}

// addressRecords makes the A (IPv4) or AAAA (IPv6) records of addrs that
// qtype asks for (both for ANY).
func (r *Resolver) addressRecords(owner string, addrs []netip.Addr, qtype uint16) []dns.RR {
	var out []dns.RR
	for _, a := range addrs {
		switch {
		case a.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
			out = append(out, &dns.A{Hdr: r.hdr(owner, dns.TypeA), A: a.AsSlice()})
		case a.Is6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
			out = append(out, &dns.AAAA{Hdr: r.hdr(owner, dns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	return out
}

func (r *Resolver) hdr(owner string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: dns.Fqdn(owner), Rrtype: rrtype, Class: dns.ClassINET, Ttl: r.ttl}
}

// soa is the cluster domain's SOA, whose minimum TTL bounds how long
// resolvers cache a negative answer.
func (r *Resolver) soa() dns.RR {
	return &dns.SOA{
		Hdr: r.hdr(r.domain, dns.TypeSOA),
		Ns:  "ns.dns." + r.domain, Mbox: "hostmaster." + r.domain,
		Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: r.ttl,
	}
}

func nodata() Result   { return Result{Rcode: dns.RcodeSuccess} }
func nxdomain() Result { return Result{Rcode: dns.RcodeNameError} }

// isHeadless says whether svc has no ClusterIP (and is not ExternalName).
func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName &&
		(svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "")
}

// clusterIPs returns the parsed ClusterIPs of svc.
func clusterIPs(svc *corev1.Service) []netip.Addr {
	return appendClusterIPs(nil, svc)
}

// appendClusterIPs appends the parsed ClusterIPs of svc to dst.
func appendClusterIPs(dst []netip.Addr, svc *corev1.Service) []netip.Addr {
	if len(svc.Spec.ClusterIPs) == 0 {
		if a, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil {
			dst = append(dst, a.Unmap())
		}
		return dst
	}
	for _, s := range svc.Spec.ClusterIPs {
		if a, err := netip.ParseAddr(s); err == nil {
			dst = append(dst, a.Unmap())
		}
	}
	return dst
}

func protocolLabel(p corev1.Protocol) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(string(p))
}

// endpoint is one address of a ready endpoint.
type endpoint struct {
	addr     netip.Addr
	hostname string // the endpoint's hostname, or its address dashed
	ports    []discoveryv1.EndpointPort
}

// port returns the number of the slice port named name with protocol.
func (e endpoint) port(name string, protocol corev1.Protocol) (uint16, bool) {
	for _, p := range e.ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if p.Name != nil && *p.Name == name && pp == protocol && p.Port != nil {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}

// readyEndpoints lists the addresses of the endpoints of slices that are
// ready (a missing condition counts as ready), or all of them when the
// Service publishes not-ready addresses.
func readyEndpoints(svc *corev1.Service, slices []*discoveryv1.EndpointSlice) []endpoint {
	var out []endpoint
	for _, sl := range slices {
		if sl.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		for _, ep := range sl.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			if !ready && !svc.Spec.PublishNotReadyAddresses {
				continue
			}
			for _, a := range ep.Addresses {
				addr, err := netip.ParseAddr(a)
				if err != nil {
					continue
				}
				addr = addr.Unmap()
				host := dashed(addr)
				if ep.Hostname != nil && *ep.Hostname != "" {
					host = strings.ToLower(*ep.Hostname)
				}
				out = append(out, endpoint{addr: addr, hostname: host, ports: sl.Ports})
			}
		}
	}
	return out
}

// dashed writes an address with dashes for its dots or colons, as pod and
// endpoint names do: 10-42-0-5, fd00--5.
func dashed(a netip.Addr) string {
	if a.Is4() {
		return strings.ReplaceAll(a.String(), ".", "-")
	}
	return strings.ReplaceAll(a.String(), ":", "-")
}

// parseDashed reads a dashed address back.
func parseDashed(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.ReplaceAll(s, "-", ".")); err == nil && a.Is4() {
		return a, true
	}
	if a, err := netip.ParseAddr(strings.ReplaceAll(s, "-", ":")); err == nil && a.Is6() && !a.Is4In6() {
		return a, true
	}
	return netip.Addr{}, false
}

// parseReverse reads the address of a name under in-addr.arpa. or
// ip6.arpa. (lower case, fully qualified).
func parseReverse(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		parts := strings.Split(rest, ".")
		if len(parts) != 4 {
			return netip.Addr{}, false
		}
		slices.Reverse(parts)
		a, err := netip.ParseAddr(strings.Join(parts, "."))
		return a, err == nil && a.Is4()
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		nibbles := strings.Split(rest, ".")
		if len(nibbles) != 32 {
			return netip.Addr{}, false
		}
		var b strings.Builder
		for i := 31; i >= 0; i-- {
			if len(nibbles[i]) != 1 {
				return netip.Addr{}, false
			}
			b.WriteString(nibbles[i])
			if i%4 == 0 && i != 0 {
				b.WriteByte(':')
			}
		}
		a, err := netip.ParseAddr(b.String())
		return a, err == nil && a.Is6()
	}
	return netip.Addr{}, false
}
