package dns

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
)

// startUpstream runs a DNS server on loopback that answers every A
// question with 192.0.2.1 and returns its address.
func startUpstream(t testing.TB, network string) string {
	t.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetReply(req)
		q := req.Question[0]
		if q.Qtype == dns.TypeA {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)}}
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{Handler: h}
	switch network {
	case "udp":
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv.PacketConn = pc
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv.Listener = l
	}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	if srv.PacketConn != nil {
		return srv.PacketConn.LocalAddr().String()
	}
	return srv.Listener.Addr().String()
}

// startServer runs a Server over a fake API holding objs.
func startServer(t testing.TB, upstreams []string, objs ...runtime.Object) *Server {
	t.Helper()
	client := fake.NewClientset(objs...)
	s, err := New(Config{
		Client: client, ListenAddr: "127.0.0.1:0", Upstreams: upstreams, ForwardTimeout: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	// Ready once a cluster name answers.
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	err = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		m := new(dns.Msg).SetQuestion("svc.cluster.local.", dns.TypeA)
		r, _, err := c.ExchangeContext(ctx, m, s.Addr().String())
		return err == nil && r.Rcode == dns.RcodeSuccess, nil
	})
	if err != nil {
		t.Fatalf("server not answering: %v", err)
	}
	return s
}

func exchange(t *testing.T, network, addr, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	if edns {
		m.SetEdns0(4096, false)
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return r
}

func TestServer(t *testing.T) {
	upUDP, upTCP := startUpstream(t, "udp"), startUpstream(t, "tcp")
	// The TCP upstream listens on another port than the UDP one: each
	// network asks the first upstream that answers on it.
	bigSlice := slice("prod", "big", "big-a")
	for i := range 100 {
		bigSlice.Endpoints = append(bigSlice.Endpoints, endpointAt(fmt.Sprintf("10.42.1.%d", i)))
	}
	s := startServer(t, []string{upUDP, upTCP},
		service("prod", "model", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.20", []string{"10.43.0.20"} }),
		service("prod", "ext", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "www.example.com"
		}),
		service("prod", "big", headless), bigSlice,
	)
	addr := s.Addr().String()
	if !s.Addr().Addr().IsLoopback() || s.Addr().Port() == 0 {
		t.Fatalf("Addr() = %s, want the bound loopback address and port", s.Addr())
	}
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			r := exchange(t, network, addr, "model.prod.svc.cluster.local.", dns.TypeA, false)
			if r.Rcode != dns.RcodeSuccess || !slices.Equal(shorts(r.Answer), []string{"A 10.43.0.20"}) || !r.Authoritative {
				t.Errorf("service A: %v", r)
			}
			r = exchange(t, network, addr, "missing.prod.svc.cluster.local.", dns.TypeA, false)
			if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
				t.Errorf("missing name: rcode %s, ns %v; want NXDOMAIN with an SOA", dns.RcodeToString[r.Rcode], r.Ns)
			}
			r = exchange(t, network, addr, "example.com.", dns.TypeA, false)
			if r.Rcode != dns.RcodeSuccess || !slices.Equal(shorts(r.Answer), []string{"A 192.0.2.1"}) {
				t.Errorf("forwarded name: %v", r)
			}
			r = exchange(t, network, addr, "ext.prod.svc.cluster.local.", dns.TypeA, false)
			if !slices.Equal(shorts(r.Answer), []string{"CNAME www.example.com.", "A 192.0.2.1"}) {
				t.Errorf("ExternalName: answer %q, want the CNAME and the upstream's A of its target", shorts(r.Answer))
			}
		})
	}
	t.Run("big answer truncated over UDP, whole over TCP and EDNS", func(t *testing.T) {
		r := exchange(t, "udp", addr, "big.prod.svc.cluster.local.", dns.TypeA, false)
		if !r.Truncated || len(r.Answer) >= 100 {
			t.Errorf("UDP without EDNS: truncated %v with %d answers, want TC set", r.Truncated, len(r.Answer))
		}
		if r := exchange(t, "tcp", addr, "big.prod.svc.cluster.local.", dns.TypeA, false); r.Truncated || len(r.Answer) != 100 {
			t.Errorf("TCP: truncated %v with %d answers, want 100", r.Truncated, len(r.Answer))
		}
		if r := exchange(t, "udp", addr, "big.prod.svc.cluster.local.", dns.TypeA, true); r.Truncated || len(r.Answer) != 100 {
			t.Errorf("UDP with EDNS 4096: truncated %v with %d answers, want 100", r.Truncated, len(r.Answer))
		}
	})
}

func endpointAt(ip string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}}
}

func TestServerNoUpstreamAnswers(t *testing.T) {
	// An address where nothing answers: a port taken and released.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close()
	s := startServer(t, []string{dead})
	r := exchange(t, "udp", s.Addr().String(), "example.com.", dns.TypeA, false)
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode = %s, want SERVFAIL when no upstream answers", dns.RcodeToString[r.Rcode])
	}
}

func TestUpstreamsOf(t *testing.T) {
	self := netip.MustParseAddrPort("192.168.1.5:53")
	any53 := netip.MustParseAddrPort("0.0.0.0:53")
	tests := []struct {
		name    string
		servers []string
		self    netip.AddrPort
		want    []string
	}{
		{"all kept", []string{"1.1.1.1", "2001:db8::1"}, self, []string{"1.1.1.1:53", "[2001:db8::1]:53"}},
		{"self left out", []string{"192.168.1.5", "8.8.8.8"}, self, []string{"8.8.8.8:53"}},
		{"loopback kept when self is elsewhere", []string{"127.0.0.53"}, self, []string{"127.0.0.53:53"}},
		{"loopback is self when listening everywhere", []string{"127.0.0.1", "8.8.8.8"}, any53, []string{"8.8.8.8:53"}},
		{"self on another port is another server", []string{"192.168.1.5"}, netip.MustParseAddrPort("192.168.1.5:5353"), []string{"192.168.1.5:53"}},
		{"garbage skipped", []string{"not-an-ip"}, self, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := upstreamsOf(tt.servers, "53", tt.self); !slices.Equal(got, tt.want) {
				t.Errorf("upstreamsOf = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadUpstreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("# comment\nsearch example.com\nnameserver 10.0.0.2\nnameserver 10.0.0.9\noptions ndots:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readUpstreams(path, netip.MustParseAddrPort("10.0.0.9:53"))
	if err != nil || !slices.Equal(got, []string{"10.0.0.2:53"}) {
		t.Errorf("readUpstreams = %q, %v; want [10.0.0.2:53]", got, err)
	}
	if _, err := readUpstreams(filepath.Join(t.TempDir(), "none"), self0); err == nil {
		t.Error("missing resolv.conf: no error")
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var self0 = netip.MustParseAddrPort("127.0.0.1:53")

// BenchmarkServeUDP measures queries answered per second for a service
// name over UDP on loopback, with clients in parallel (b.RunParallel) and
// 1,000 Services in the store. The goal is 20,000/s on a 2-core machine.
func BenchmarkServeUDP(b *testing.B) {
	objs := []runtime.Object{}
	for i := range 1000 {
		ip := fmt.Sprintf("10.43.%d.%d", 1+i/250, 1+i%250)
		objs = append(objs, service("prod", fmt.Sprintf("svc-%d", i), func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = ip, []string{ip}
			s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}
		}))
	}
	objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod"}})
	s := startServer(b, nil, objs...)
	addr := s.Addr().String()
	var mu sync.Mutex
	var failed error
	// Many queries in flight, as from many pods: 16 clients per CPU.
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := dns.Dial("udp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		m := new(dns.Msg).SetQuestion("svc-500.prod.svc.cluster.local.", dns.TypeA)
		for pb.Next() {
			m.Id = dns.Id()
			_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
			if err := conn.WriteMsg(m); err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
				return
			}
			r, err := conn.ReadMsg()
			if err == nil && (r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1) {
				err = fmt.Errorf("answer %v", r)
			}
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
				return
			}
		}
	})
	elapsed := time.Since(start)
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "queries/s")
	// CPU time of the process (server and clients) per query: the figure
	// that does not depend on what else the machine runs.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/query")
}
