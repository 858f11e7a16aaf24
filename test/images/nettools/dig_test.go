package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeClusterDNS serves a few cluster records over UDP and TCP on one
// local port and records the transport of each question.
type fakeClusterDNS struct {
	mu   sync.Mutex
	seen []string // "udp name" / "tcp name"
}

func (f *fakeClusterDNS) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	q := r.Question[0]
	f.mu.Lock()
	f.seen = append(f.seen, w.RemoteAddr().Network()+" "+q.Name)
	f.mu.Unlock()
	records := map[string]string{
		"dns-test-service.ns.svc.cluster.local. A":              "dns-test-service.ns.svc.cluster.local. 30 IN A 10.96.0.5",
		"_http._tcp.dns-test-service.ns.svc.cluster.local. SRV": "_http._tcp.dns-test-service.ns.svc.cluster.local. 30 IN SRV 0 100 80 dns-test-service.ns.svc.cluster.local.",
		"dns-test-service-3.ns.svc.cluster.local. CNAME":        "dns-test-service-3.ns.svc.cluster.local. 30 IN CNAME foo.example.com.",
		"5.0.96.10.in-addr.arpa. PTR":                           "5.0.96.10.in-addr.arpa. 30 IN PTR dns-test-service.ns.svc.cluster.local.",
		"kubernetes.default.svc.cluster.local. A":               "kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1",
	}
	m := new(dns.Msg)
	m.SetReply(r)
	if s := records[q.Name+" "+dns.TypeToString[q.Qtype]]; s != "" {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		m.Answer = append(m.Answer, rr)
	} else {
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

func (f *fakeClusterDNS) transports() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// startFakeDNS serves f on 127.0.0.1 and points resolvConf at a file with
// the cluster's search list; it returns the port.
func startFakeDNS(t *testing.T, f *fakeClusterDNS) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(pc.LocalAddr().String())
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		pc.Close()
		t.Skipf("the TCP port beside UDP %s is taken: %v", port, err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: f}
	tcp := &dns.Server{Listener: ln, Handler: f}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })

	conf := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(conf, []byte("nameserver 127.0.0.1\nsearch ns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"), 0o644)
	old := resolvConf
	resolvConf = conf
	t.Cleanup(func() { resolvConf = old })
	return port
}

func TestDig(t *testing.T) {
	f := &fakeClusterDNS{}
	port := startFakeDNS(t, f)
	tests := []struct {
		name          string
		args          []string
		wantCode      int
		wantStdout    string
		wantTransport string // the transport of the last question
	}{
		{
			name:          "UDP answer section with the search list (the DNS conformance probe)",
			args:          []string{"+notcp", "+noall", "+answer", "+search", "dns-test-service", "A"},
			wantStdout:    "dns-test-service.ns.svc.cluster.local.\t30\tIN\tA\t10.96.0.5\n",
			wantTransport: "udp dns-test-service.ns.svc.cluster.local.",
		},
		{
			name:          "TCP, a partly qualified name",
			args:          []string{"+tcp", "+noall", "+answer", "+search", "kubernetes.default", "A"},
			wantStdout:    "kubernetes.default.svc.cluster.local.\t30\tIN\tA\t10.96.0.1\n",
			wantTransport: "tcp kubernetes.default.svc.cluster.local.",
		},
		{
			name:       "SRV by its full name",
			args:       []string{"+notcp", "+noall", "+answer", "+search", "_http._tcp.dns-test-service.ns.svc.cluster.local", "SRV"},
			wantStdout: "_http._tcp.dns-test-service.ns.svc.cluster.local.\t30\tIN\tSRV\t0 100 80 dns-test-service.ns.svc.cluster.local.\n",
		},
		{
			name:       "ExternalName's CNAME, short",
			args:       []string{"+short", "dns-test-service-3.ns.svc.cluster.local", "CNAME"},
			wantStdout: "foo.example.com.\n",
		},
		{
			name:       "PTR",
			args:       []string{"+short", "-x", "10.96.0.5"},
			wantStdout: "dns-test-service.ns.svc.cluster.local.\n",
		},
		{
			name: "without +search a short name is asked as it is",
			args: []string{"+short", "dns-test-service", "A"},
		},
		{
			name: "NXDOMAIN prints nothing and is no error",
			args: []string{"+notcp", "+noall", "+answer", "+search", "nope", "A"},
		},
		{
			name:     "an unknown option",
			args:     []string{"+trace", "x"},
			wantCode: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), "dig", append([]string{"-p", port}, tt.args...), nil, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if stdout.String() != tt.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.wantStdout)
			}
			if tt.wantTransport != "" {
				seen := f.transports()
				if last := seen[len(seen)-1]; last != tt.wantTransport {
					t.Errorf("the server's last question was %q, want %q", last, tt.wantTransport)
				}
			}
		})
	}

	var stdout bytes.Buffer
	run(context.Background(), "dig", []string{"-p", port, "kubernetes.default.svc.cluster.local"}, nil, &stdout, &bytes.Buffer{})
	if got := stdout.String(); !strings.Contains(got, "status: NOERROR") || !strings.Contains(got, ";; ANSWER SECTION:\nkubernetes.default.svc.cluster.local.\t30\tIN\tA\t10.96.0.1\n") {
		t.Errorf("plain dig printed %q, want the status and the answer section", got)
	}
}

func TestDigNoServer(t *testing.T) {
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.LocalAddr().String())
	ln.Close()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(context.Background(), "dig", []string{"@127.0.0.1", "-p", port, "+time=1", "+tries=1", "+short", "x"}, nil, &stdout, &stderr)
	if code != 9 || !strings.Contains(stdout.String(), "no servers could be reached") {
		t.Errorf("exit %d, stdout %q; want 9 and ';; no servers could be reached'", code, stdout.String())
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("dig took %v with +time=1 +tries=1", took)
	}
}

func TestGetent(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
	}{
		{name: "an address: its names", args: []string{"hosts", "127.0.0.1"}, wantStdout: "127.0.0.1       localhost"},
		{name: "a missing name", args: []string{"hosts", "no-such-host.invalid"}, wantCode: 2},
		{name: "another database", args: []string{"passwd", "root"}, wantCode: 1},
		{name: "no key", args: []string{"hosts"}, wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			code := run(context.Background(), "getent", tt.args, nil, &stdout, &bytes.Buffer{})
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d", code, tt.wantCode)
			}
			if !strings.HasPrefix(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q, want it to start with %q", stdout.String(), tt.wantStdout)
			}
		})
	}
	if got, want := hostsLine("10.0.0.7", "web-0.web.ns.svc.cluster.local", []string{"web-0.", "web-0.web.ns.svc.cluster.local."}), "10.0.0.7        web-0.web.ns.svc.cluster.local web-0"; got != want {
		t.Errorf("hostsLine = %q, want %q", got, want)
	}
}
