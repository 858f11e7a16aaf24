//go:build integration

package dns

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/testserver"
	"skiff.dev/skiff/internal/wellknown"
)

// TestServerAgainstAPI runs the DNS server on a real API server and asks
// it over UDP and TCP for what the API holds.
func TestServerAgainstAPI(t *testing.T) {
	api := testserver.Start(t, nil)
	ctx := context.Background()
	client := api.Client
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	create := func(svc *corev1.Service) *corev1.Service {
		t.Helper()
		got, err := client.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create service %s: %v", svc.Name, err)
		}
		return got
	}
	model := create(service("prod", "model", func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}
	}))
	create(service("prod", "headless", func(s *corev1.Service) {
		s.Spec.ClusterIP = corev1.ClusterIPNone
		s.Spec.Ports = []corev1.ServicePort{{Name: "web", Port: 80, Protocol: corev1.ProtocolTCP}}
	}))
	create(service("prod", "ext", func(s *corev1.Service) {
		s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "www.example.com"
	}))
	sl := slice("prod", "headless", "headless-abc",
		testEndpoint{ip: "10.42.0.5", hostname: "web-0", ready: ptr.To(true)},
		testEndpoint{ip: "10.42.0.6", ready: ptr.To(true)},
		testEndpoint{ip: "10.42.0.7", ready: ptr.To(false)})
	if _, err := client.DiscoveryV1().EndpointSlices("prod").Create(ctx, sl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	upstream := startUpstream(t, "udp")
	s, err := New(Config{Client: client, ListenAddr: "127.0.0.1:0", Upstreams: []string{upstream},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	addr := s.Addr().String()

	// ask polls until the answer to name/qtype over network is want.
	ask := func(network, name string, qtype uint16, rcode int, want ...string) {
		t.Helper()
		c := &dns.Client{Net: network, Timeout: time.Second}
		var last string
		testserver.Poll(t, 20*time.Second, fmt.Sprintf("%s %s over %s", name, dns.TypeToString[qtype], network), func() error {
			r, _, err := c.Exchange(new(dns.Msg).SetQuestion(name, qtype), addr)
			if err != nil {
				return err
			}
			got := shorts(r.Answer)
			last = fmt.Sprintf("%s %q", dns.RcodeToString[r.Rcode], got)
			if r.Rcode != rcode || !slices.Equal(got, want) {
				return fmt.Errorf("got %s, want %s %q", last, dns.RcodeToString[rcode], want)
			}
			return nil
		})
	}
	for _, network := range []string{"udp", "tcp"} {
		ask(network, "model.prod.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "A "+model.Spec.ClusterIP)
		ask(network, "headless.prod.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "A 10.42.0.5", "A 10.42.0.6")
		ask(network, "web-0.headless.prod.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "A 10.42.0.5")
		ask(network, "_http._tcp.model.prod.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess, "SRV 0 100 80 model.prod.svc.cluster.local.")
		ask(network, "_web._tcp.headless.prod.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			"SRV 0 50 8080 web-0.headless.prod.svc.cluster.local.", "SRV 0 50 8080 10-42-0-6.headless.prod.svc.cluster.local.")
		ask(network, "ext.prod.svc.cluster.local.", dns.TypeCNAME, dns.RcodeSuccess, "CNAME www.example.com.")
		ask(network, "missing.prod.svc.cluster.local.", dns.TypeA, dns.RcodeNameError)
		ask(network, "kubernetes.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "A 10.43.0.1")
		ask(network, "kube-dns.kube-system.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "A 10.43.0.10")
	}
	ask("udp", "example.com.", dns.TypeA, dns.RcodeSuccess, "A 192.0.2.1")

	// A Service created now is answered once the informer has it.
	late := create(service("prod", "late", func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{{Port: 8080, Protocol: corev1.ProtocolTCP}}
	}))
	ask("udp", "late.prod.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "A "+late.Spec.ClusterIP)
	// An endpoint turning ready joins the headless answer.
	sl, err = client.DiscoveryV1().EndpointSlices("prod").Get(ctx, "headless-abc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sl.Endpoints[2].Conditions.Ready = ptr.To(true)
	if _, err := client.DiscoveryV1().EndpointSlices("prod").Update(ctx, sl, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ask("tcp", "headless.prod.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "A 10.42.0.5", "A 10.42.0.6", "A 10.42.0.7")
	// A deleted Service is gone from DNS.
	if err := client.CoreV1().Services("prod").Delete(ctx, "late", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ask("udp", "late.prod.svc.cluster.local.", dns.TypeA, dns.RcodeNameError)
}

// TestKeepEndpoints: the kube-dns Endpoints hold the DNS server's address,
// get it back after a delete or a change, keep another server's, and lose
// it when the server stops.
func TestKeepEndpoints(t *testing.T) {
	api := testserver.Start(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	client := api.Client
	addr := netip.MustParseAddrPort("192.0.2.10:5353")
	done := make(chan struct{})
	go func() {
		defer close(done)
		KeepEndpoints(ctx, client, addr, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()

	get := func() (*corev1.Endpoints, error) {
		return client.CoreV1().Endpoints(metav1.NamespaceSystem).Get(context.Background(), wellknown.DNSServiceName, metav1.GetOptions{})
	}
	ips := func() ([]string, error) {
		eps, err := get()
		if err != nil {
			return nil, err
		}
		var out []string
		for _, ss := range eps.Subsets {
			for _, a := range ss.Addresses {
				out = append(out, fmt.Sprintf("%s:%d", a.IP, ss.Ports[0].Port))
			}
		}
		return out, nil
	}
	expectIPs := func(what string, want ...string) {
		t.Helper()
		testserver.Poll(t, 20*time.Second, what, func() error {
			got, err := ips()
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("addresses %q, want %q", got, want)
			}
			return nil
		})
	}
	expectIPs("endpoints written", "192.0.2.10:5353")

	if err := client.CoreV1().Endpoints(metav1.NamespaceSystem).Delete(ctx, wellknown.DNSServiceName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expectIPs("endpoints written again after a delete", "192.0.2.10:5353")

	// Another server's address (same ports) is kept beside this one's.
	eps, err := get()
	if err != nil {
		t.Fatal(err)
	}
	eps.Subsets[0].Addresses = []corev1.EndpointAddress{{IP: "192.0.2.99"}}
	if _, err := client.CoreV1().Endpoints(metav1.NamespaceSystem).Update(ctx, eps, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expectIPs("this server's address back beside another's", "192.0.2.99:5353", "192.0.2.10:5353")

	// Stopping takes this server's address out.
	cancel()
	<-done
	stopped = true
	expectIPs("this server's address removed at stop", "192.0.2.99:5353")
}

// The kube-dns Service the API server creates at start has the cluster DNS
// address and no selector.
func TestBootstrapDNSService(t *testing.T) {
	api := testserver.Start(t, nil)
	svc, err := api.Client.CoreV1().Services(metav1.NamespaceSystem).Get(context.Background(), wellknown.DNSServiceName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.43.0.10" || svc.Spec.Selector != nil || svc.Labels[wellknown.DNSAppLabel] != wellknown.DNSAppName {
		t.Errorf("kube-dns: clusterIP %s, selector %v, labels %v", svc.Spec.ClusterIP, svc.Spec.Selector, svc.Labels)
	}
	var ports []string
	for _, p := range svc.Spec.Ports {
		ports = append(ports, fmt.Sprintf("%s %d/%s->%s", p.Name, p.Port, p.Protocol, p.TargetPort.String()))
	}
	if want := []string{"dns 53/UDP->53", "dns-tcp 53/TCP->53"}; !slices.Equal(ports, want) {
		t.Errorf("kube-dns ports %q, want %q", ports, want)
	}
	// Its address is held: nobody else can ask for it.
	_, err = api.Client.CoreV1().Services("default").Create(context.Background(), service("default", "thief", func(s *corev1.Service) {
		s.Spec.ClusterIP = "10.43.0.10"
	}), metav1.CreateOptions{})
	if err == nil {
		t.Error("a second Service took 10.43.0.10")
	}
}
