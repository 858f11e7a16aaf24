// Package dns is the cluster DNS server: it answers the names of Kubernetes'
// DNS-based service discovery specification (<svc>.<ns>.svc.<domain> A and
// AAAA, headless Services' endpoint addresses, SRV records of named ports,
// pod records, ExternalName CNAMEs, PTR records of ClusterIPs and endpoint
// addresses, dns-version TXT) from the Services and EndpointSlices the API
// server holds, and forwards every other name to the upstream servers of a
// resolv.conf.
//
// The answers are computed by a pure function (Resolver.Answer) over a Store
// of Services and EndpointSlices; the Server around it reads that Store from
// client-go informers and speaks DNS over UDP and TCP with github.com/miekg/dns.
// KeepEndpoints keeps the kube-dns Service's hand-written Endpoints pointing
// at a running Server.
package dns
