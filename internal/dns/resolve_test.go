package dns

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func service(ns, name string, mutate func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}}
	mutate(svc)
	return svc
}

func headless(svc *corev1.Service) {
	svc.Spec.ClusterIP, svc.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
	svc.Spec.Ports = []corev1.ServicePort{{Name: "web", Port: 80, Protocol: corev1.ProtocolTCP}}
}

type testEndpoint struct {
	ip, hostname string
	ready        *bool
}

func slice(ns, svc, name string, eps ...testEndpoint) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("web"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, e := range eps {
		ep := discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{Ready: e.ready}}
		if e.hostname != "" {
			ep.Hostname = ptr.To(e.hostname)
		}
		sl.Endpoints = append(sl.Endpoints, ep)
	}
	return sl
}

func testStore(t testing.TB) Store {
	t.Helper()
	s, err := NewIndexerStore(
		service("default", "kubernetes", func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.1", []string{"10.43.0.1"}
			s.Spec.Ports = []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}
		}),
		service("prod", "model", func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.20", []string{"10.43.0.20"}
			s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}, {Port: 81, Protocol: corev1.ProtocolTCP}}
		}),
		service("prod", "dual", func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.21", []string{"10.43.0.21", "fd00::21"}
		}),
		service("prod", "headless", headless),
		slice("prod", "headless", "headless-a",
			testEndpoint{ip: "10.42.0.5", hostname: "web-0"},
			testEndpoint{ip: "10.42.0.6", ready: ptr.To(true)},
			testEndpoint{ip: "10.42.0.7", hostname: "web-2", ready: ptr.To(false)}),
		// The same address in a second slice (a slice being replaced) is
		// answered once.
		slice("prod", "headless", "headless-b", testEndpoint{ip: "10.42.0.6", ready: ptr.To(true)}),
		service("prod", "unready", func(s *corev1.Service) { headless(s); s.Spec.PublishNotReadyAddresses = true }),
		slice("prod", "unready", "unready-a", testEndpoint{ip: "10.42.0.8", ready: ptr.To(false)}),
		service("prod", "empty", headless),
		slice("prod", "empty", "empty-a", testEndpoint{ip: "10.42.0.9", ready: ptr.To(false)}),
		service("prod", "ext", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "www.example.com"
		}),
		service("prod", "alias", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "model.prod.svc.cluster.local"
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// short writes a record without its owner, TTL and class: "A 10.43.0.20".
func short(rr dns.RR) string {
	return strings.Join(strings.Fields(rr.String())[3:], " ")
}

func shorts(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, short(rr))
	}
	return out
}

func TestAnswer(t *testing.T) {
	store := testStore(t)
	r := NewResolver("cluster.local", 0)
	const (
		noerror  = dns.RcodeSuccess
		nxdomain = dns.RcodeNameError
	)
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		rcode   int
		answer  []string
		extra   []string
		forward bool
		chase   string
	}{
		{"service A", "model.prod.svc.cluster.local.", dns.TypeA, noerror, []string{"A 10.43.0.20"}, nil, false, ""},
		{"names are case-insensitive", "Model.PROD.svc.Cluster.Local.", dns.TypeA, noerror, []string{"A 10.43.0.20"}, nil, false, ""},
		{"IPv4 service has no AAAA (NODATA)", "model.prod.svc.cluster.local.", dns.TypeAAAA, noerror, nil, nil, false, ""},
		{"dual-stack AAAA", "dual.prod.svc.cluster.local.", dns.TypeAAAA, noerror, []string{"AAAA fd00::21"}, nil, false, ""},
		{"dual-stack A", "dual.prod.svc.cluster.local.", dns.TypeA, noerror, []string{"A 10.43.0.21"}, nil, false, ""},
		{"TXT of a service is NODATA", "model.prod.svc.cluster.local.", dns.TypeTXT, noerror, nil, nil, false, ""},
		{"missing service", "missing.prod.svc.cluster.local.", dns.TypeA, nxdomain, nil, nil, false, ""},
		{"missing namespace", "model.nope.svc.cluster.local.", dns.TypeA, nxdomain, nil, nil, false, ""},
		{"namespace name", "prod.svc.cluster.local.", dns.TypeA, noerror, nil, nil, false, ""},
		{"namespace without services", "nope.svc.cluster.local.", dns.TypeA, nxdomain, nil, nil, false, ""},
		{"svc zone", "svc.cluster.local.", dns.TypeA, noerror, nil, nil, false, ""},
		{"domain apex SOA", "cluster.local.", dns.TypeSOA, noerror, []string{"SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"}, nil, false, ""},
		{"unknown zone in the domain", "x.cluster.local.", dns.TypeA, nxdomain, nil, nil, false, ""},
		{"too deep", "a.b.c.d.e.svc.cluster.local.", dns.TypeA, nxdomain, nil, nil, false, ""},
		{"headless: ready endpoints once each", "headless.prod.svc.cluster.local.", dns.TypeA, noerror, []string{"A 10.42.0.5", "A 10.42.0.6"}, nil, false, ""},
		{"headless publishNotReadyAddresses", "unready.prod.svc.cluster.local.", dns.TypeA, noerror, []string{"A 10.42.0.8"}, nil, false, ""},
		{"headless without ready endpoints", "empty.prod.svc.cluster.local.", dns.TypeA, nxdomain, nil, nil, false, ""},
		{"endpoint hostname", "web-0.headless.prod.svc.cluster.local.", dns.TypeA, noerror, []string{"A 10.42.0.5"}, nil, false, ""},
		{"endpoint dashed address", "10-42-0-6.headless.prod.svc.cluster.local.", dns.TypeA, noerror, []string{"A 10.42.0.6"}, nil, false, ""},
		{"endpoint with a hostname has no dashed name", "10-42-0-5.headless.prod.svc.cluster.local.", dns.TypeA, nxdomain, nil, nil, false, ""},
		{"not-ready endpoint hostname", "web-2.headless.prod.svc.cluster.local.", dns.TypeA, nxdomain, nil, nil, false, ""},
		{"hostname under a ClusterIP service", "web-0.model.prod.svc.cluster.local.", dns.TypeA, nxdomain, nil, nil, false, ""},
		{"SRV of a named port", "_http._tcp.model.prod.svc.cluster.local.", dns.TypeSRV, noerror,
			[]string{"SRV 0 100 80 model.prod.svc.cluster.local."}, []string{"A 10.43.0.20"}, false, ""},
		{"SRV of the kubernetes service", "_https._tcp.kubernetes.default.svc.cluster.local.", dns.TypeSRV, noerror,
			[]string{"SRV 0 100 443 kubernetes.default.svc.cluster.local."}, []string{"A 10.43.0.1"}, false, ""},
		{"SRV of a headless service: one per endpoint", "_web._tcp.headless.prod.svc.cluster.local.", dns.TypeSRV, noerror,
			[]string{"SRV 0 50 8080 web-0.headless.prod.svc.cluster.local.", "SRV 0 50 8080 10-42-0-6.headless.prod.svc.cluster.local."},
			[]string{"A 10.42.0.5", "A 10.42.0.6"}, false, ""},
		{"SRV of a missing port name", "_grpc._tcp.model.prod.svc.cluster.local.", dns.TypeSRV, nxdomain, nil, nil, false, ""},
		{"SRV with the wrong protocol", "_http._udp.model.prod.svc.cluster.local.", dns.TypeSRV, nxdomain, nil, nil, false, ""},
		{"A of an SRV name is NODATA", "_http._tcp.model.prod.svc.cluster.local.", dns.TypeA, noerror, nil, nil, false, ""},
		{"protocol label of a named port is NODATA", "_tcp.model.prod.svc.cluster.local.", dns.TypeSRV, noerror, nil, nil, false, ""},
		{"ExternalName is a CNAME, chased upstream", "ext.prod.svc.cluster.local.", dns.TypeA, noerror,
			[]string{"CNAME www.example.com."}, nil, false, "www.example.com."},
		{"ExternalName CNAME question", "ext.prod.svc.cluster.local.", dns.TypeCNAME, noerror, []string{"CNAME www.example.com."}, nil, false, ""},
		{"ExternalName into the cluster domain is followed", "alias.prod.svc.cluster.local.", dns.TypeA, noerror,
			[]string{"CNAME model.prod.svc.cluster.local.", "A 10.43.0.20"}, nil, false, ""},
		{"pod record", "10-42-0-9.prod.pod.cluster.local.", dns.TypeA, noerror, []string{"A 10.42.0.9"}, nil, false, ""},
		{"IPv6 pod record", "fd00--9.prod.pod.cluster.local.", dns.TypeAAAA, noerror, []string{"AAAA fd00::9"}, nil, false, ""},
		{"pod record AAAA of an IPv4 pod", "10-42-0-9.prod.pod.cluster.local.", dns.TypeAAAA, noerror, nil, nil, false, ""},
		{"bad pod record", "10-42-0.prod.pod.cluster.local.", dns.TypeA, nxdomain, nil, nil, false, ""},
		{"schema version", "dns-version.cluster.local.", dns.TypeTXT, noerror, []string{`TXT "1.1.0"`}, nil, false, ""},
		{"outside the domain is forwarded", "example.com.", dns.TypeA, noerror, nil, nil, true, ""},
		{"a lookalike domain is forwarded", "notcluster.local.", dns.TypeA, noerror, nil, nil, true, ""},
		{"PTR of a ClusterIP", "20.0.43.10.in-addr.arpa.", dns.TypePTR, noerror, []string{"PTR model.prod.svc.cluster.local."}, nil, false, ""},
		{"PTR of a headless endpoint", "5.0.42.10.in-addr.arpa.", dns.TypePTR, noerror, []string{"PTR web-0.headless.prod.svc.cluster.local."}, nil, false, ""},
		{"PTR of an IPv6 ClusterIP", "1.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", dns.TypePTR, noerror,
			[]string{"PTR dual.prod.svc.cluster.local."}, nil, false, ""},
		{"PTR of another address is forwarded", "1.1.1.1.in-addr.arpa.", dns.TypePTR, noerror, nil, nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := r.Answer(dns.Question{Name: tt.qname, Qtype: tt.qtype, Qclass: dns.ClassINET}, store)
			if res.Forward != tt.forward {
				t.Fatalf("Forward = %v, want %v", res.Forward, tt.forward)
			}
			if tt.forward {
				return
			}
			if res.Rcode != tt.rcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[res.Rcode], dns.RcodeToString[tt.rcode])
			}
			if got := shorts(res.Answer); !slices.Equal(got, tt.answer) {
				t.Errorf("answer = %q, want %q", got, tt.answer)
			}
			if got := shorts(res.Extra); !slices.Equal(got, tt.extra) {
				t.Errorf("extra = %q, want %q", got, tt.extra)
			}
			if res.Chase != tt.chase {
				t.Errorf("chase = %q, want %q", res.Chase, tt.chase)
			}
			if len(res.Answer) > 0 && res.Answer[0].Header().Name != tt.qname {
				t.Errorf("answer owner = %q, want the question's %q", res.Answer[0].Header().Name, tt.qname)
			}
			for _, rr := range res.Answer {
				if rr.Header().Ttl != DefaultTTL {
					t.Errorf("TTL of %s = %d, want %d", rr, rr.Header().Ttl, DefaultTTL)
				}
			}
			negative := len(res.Answer) == 0
			if hasSOA := len(res.Ns) == 1 && res.Ns[0].Header().Rrtype == dns.TypeSOA; hasSOA != negative {
				t.Errorf("authority = %v, want an SOA exactly for negative answers", res.Ns)
			}
			if !res.Authoritative {
				t.Error("answer from the cluster domain not authoritative")
			}
		})
	}
}

func TestAnswerOtherDomain(t *testing.T) {
	store := testStore(t)
	r := NewResolver("Example.Internal", 30)
	res := r.Answer(dns.Question{Name: "model.prod.svc.example.internal.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, store)
	if got := shorts(res.Answer); !slices.Equal(got, []string{"A 10.43.0.20"}) || res.Answer[0].Header().Ttl != 30 {
		t.Errorf("answer = %v, want A 10.43.0.20 with TTL 30", res.Answer)
	}
	if res := r.Answer(dns.Question{Name: "model.prod.svc.cluster.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, store); !res.Forward {
		t.Errorf("cluster.local under domain example.internal: %+v, want forwarded", res)
	}
}

func TestParseReverse(t *testing.T) {
	tests := map[string]string{
		"4.3.2.1.in-addr.arpa.": "1.2.3.4",
		"1.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.": "fd00::21",
		"3.2.1.in-addr.arpa.":       "",
		"x.3.2.1.in-addr.arpa.":     "",
		"300.3.2.1.in-addr.arpa.":   "",
		"1.2.ip6.arpa.":             "",
		"in-addr.arpa.example.com.": "",
	}
	for name, want := range tests {
		a, ok := parseReverse(name)
		got := ""
		if ok {
			got = a.String()
		}
		if got != want {
			t.Errorf("parseReverse(%q) = %q, want %q", name, got, want)
		}
	}
}
