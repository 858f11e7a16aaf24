package prober

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcstatus "google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	criclient "k8s.io/cri-client/pkg"
	utilexec "k8s.io/utils/exec"
)

func podWithIP(ip string) *corev1.Pod {
	return &corev1.Pod{Status: corev1.PodStatus{PodIP: ip}}
}

// splitHostPort returns the host and port of a test server's URL.
func splitHostPort(t *testing.T, rawURL string) (string, int) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	return u.Hostname(), port
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestHTTPProbe(t *testing.T) {
	var mu sync.Mutex
	var lastHeader http.Header
	var lastHost string
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastHeader, lastHost = r.Header.Clone(), r.Host
		mu.Unlock()
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, strings.Repeat("x", 20000)) })
	mux.HandleFunc("/redirect-local", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/health", http.StatusFound) })
	mux.HandleFunc("/redirect-loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/redirect-loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ip, port := splitHostPort(t, srv.URL)
	// Same server, other host name: a redirect there is not followed.
	mux.HandleFunc("/redirect-away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, fmt.Sprintf("http://localhost:%d/health", port), http.StatusFound)
	})
	tlsSrv := httptest.NewTLSServer(mux)
	defer tlsSrv.Close()
	_, tlsPort := splitHostPort(t, tlsSrv.URL)

	container := &corev1.Container{Name: "model", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	get := func(path string, p intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: p}}}
	}
	byNumber := intstr.FromInt32(int32(port))

	tests := []struct {
		name       string
		pod        *corev1.Pod
		probe      *corev1.Probe
		want       Result
		wantMsg    string // exact message, or
		wantPrefix string // its start
		wantHeader map[string]string
		wantHost   string
	}{
		{name: "200", probe: get("/health", byNumber), want: Success, wantMsg: "ok",
			wantHeader: map[string]string{"User-Agent": "kube-probe/1.37", "Accept": "*/*"}},
		{name: "named port", probe: get("/health", intstr.FromString("http")), want: Success, wantMsg: "ok"},
		{name: "port number as a string", probe: get("/health", intstr.FromString(strconv.Itoa(port))), want: Success, wantMsg: "ok"},
		{name: "unknown port name", probe: get("/health", intstr.FromString("metrics")), want: Unknown,
			wantMsg: `port "metrics" not found in container "model"`},
		{name: "port out of range", probe: get("/health", intstr.FromInt32(70000)), want: Unknown, wantMsg: "invalid port number: 70000"},
		{name: "500", probe: get("/fail", byNumber), want: Failure, wantMsg: "HTTP probe failed with statuscode: 500"},
		{name: "404", probe: get("/missing", byNumber), want: Failure, wantMsg: "HTTP probe failed with statuscode: 404"},
		{name: "redirect on the same host is followed", probe: get("/redirect-local", byNumber), want: Success, wantMsg: "ok"},
		{name: "redirect to another host is a success with a warning", probe: get("/redirect-away", byNumber), want: Success,
			wantPrefix: "Probe terminated redirects, Response body: "},
		{name: "redirect loop", probe: get("/redirect-loop", byNumber), want: Failure, wantPrefix: "Get \"/redirect-loop\": stopped after 10 redirects"},
		{name: "body kept up to 10 KiB", probe: get("/big", byNumber), want: Success, wantMsg: strings.Repeat("x", 10240)},
		{name: "timeout", probe: &corev1.Probe{TimeoutSeconds: 1, ProbeHandler: get("/slow", byNumber).ProbeHandler}, want: Failure,
			wantPrefix: fmt.Sprintf("Get \"http://%s:%d/slow\": context deadline exceeded", ip, port)},
		{name: "connection refused", probe: get("/health", intstr.FromInt32(int32(closedPort(t)))), want: Failure, wantPrefix: "Get \"http://127.0.0.1:"},
		{name: "headers, Host and User-Agent override", probe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: "/health", Port: byNumber,
			HTTPHeaders: []corev1.HTTPHeader{{Name: "x-model", Value: "v2"}, {Name: "Host", Value: "model.example"}, {Name: "User-Agent", Value: "mine"}, {Name: "Accept", Value: ""}},
		}}}, want: Success, wantMsg: "ok", wantHeader: map[string]string{"X-Model": "v2", "User-Agent": "mine", "Accept": ""}, wantHost: "model.example"},
		{name: "explicit host", pod: podWithIP("10.255.255.1"), probe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Host: "127.0.0.1", Path: "/health", Port: byNumber}}}, want: Success, wantMsg: "ok"},
		{name: "no pod IP", pod: podWithIP(""), probe: get("/health", byNumber), want: Unknown, wantPrefix: "pod has no IP address"},
		{name: "https without certificate checks", probe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Scheme: corev1.URISchemeHTTPS, Path: "/health", Port: intstr.FromInt32(int32(tlsPort))}}}, want: Success, wantMsg: "ok"},
	}
	p := &Prober{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := tt.pod
			if pod == nil {
				pod = podWithIP(ip)
			}
			got, msg := p.Probe(context.Background(), pod, container, "c1", tt.probe)
			if got != tt.want {
				t.Errorf("result %v, want %v (message %q)", got, tt.want, msg)
			}
			if tt.wantPrefix != "" && !strings.HasPrefix(msg, tt.wantPrefix) {
				t.Errorf("message %q, want it to start with %q", msg, tt.wantPrefix)
			}
			if tt.wantPrefix == "" && msg != tt.wantMsg {
				t.Errorf("message %q, want %q", truncate(msg), truncate(tt.wantMsg))
			}
			mu.Lock()
			defer mu.Unlock()
			for k, v := range tt.wantHeader {
				if got := lastHeader.Get(k); got != v {
					t.Errorf("header %s: %q, want %q", k, got, v)
				}
			}
			if tt.wantHost != "" && lastHost != tt.wantHost {
				t.Errorf("Host %q, want %q", lastHost, tt.wantHost)
			}
		})
	}
}

func truncate(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s... (%d bytes)", s[:80], len(s))
	}
	return s
}

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := ln.Addr().(*net.TCPAddr).Port
	container := &corev1.Container{Name: "model", Ports: []corev1.ContainerPort{{Name: "grpc", ContainerPort: int32(open)}}}
	tests := []struct {
		name       string
		action     corev1.TCPSocketAction
		want       Result
		wantSubstr string
	}{
		{name: "open port", action: corev1.TCPSocketAction{Port: intstr.FromInt32(int32(open))}, want: Success},
		{name: "named port", action: corev1.TCPSocketAction{Port: intstr.FromString("grpc")}, want: Success},
		{name: "explicit host", action: corev1.TCPSocketAction{Host: "127.0.0.1", Port: intstr.FromInt32(int32(open))}, want: Success},
		{name: "closed port", action: corev1.TCPSocketAction{Port: intstr.FromInt32(int32(closedPort(t)))}, want: Failure, wantSubstr: "connection refused"},
		{name: "unknown port name", action: corev1.TCPSocketAction{Port: intstr.FromString("web")}, want: Unknown, wantSubstr: `port "web" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			action := tt.action
			got, msg := (&Prober{}).Probe(context.Background(), podWithIP("127.0.0.1"), container, "c1",
				&corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &action}})
			if got != tt.want || !strings.Contains(msg, tt.wantSubstr) {
				t.Errorf("got %v %q, want %v with %q", got, msg, tt.want, tt.wantSubstr)
			}
		})
	}
}

// fakeExecer answers ExecSync with canned output and records the call.
type fakeExecer struct {
	stdout, stderr []byte
	err            error
	gotID          string
	gotCmd         []string
	gotTimeout     time.Duration
}

func (f *fakeExecer) ExecSync(_ context.Context, id string, cmd []string, timeout time.Duration) ([]byte, []byte, error) {
	f.gotID, f.gotCmd, f.gotTimeout = id, cmd, timeout
	return f.stdout, f.stderr, f.err
}

func TestExecProbe(t *testing.T) {
	container := &corev1.Container{Name: "model", Env: []corev1.EnvVar{
		{Name: "PORT", Value: "8000"},
		{Name: "SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}},
	}}
	tests := []struct {
		name        string
		cmd         []string
		timeout     int32
		fake        fakeExecer
		want        Result
		wantMsg     string
		wantCmd     []string
		wantTimeout time.Duration
	}{
		{name: "exit 0", cmd: []string{"cat", "/tmp/healthy"}, fake: fakeExecer{stdout: []byte("fine\n")},
			want: Success, wantMsg: "fine\n", wantCmd: []string{"cat", "/tmp/healthy"}, wantTimeout: time.Second},
		{name: "non-zero exit", cmd: []string{"cat", "/tmp/healthy"},
			fake: fakeExecer{stderr: []byte("cat: can't open '/tmp/healthy': No such file or directory\n"), err: utilexec.CodeExitError{Err: errors.New("exit status 1"), Code: 1}},
			want: Failure, wantMsg: "cat: can't open '/tmp/healthy': No such file or directory\n"},
		{name: "stdout then stderr", cmd: []string{"sh"}, fake: fakeExecer{stdout: []byte("out "), stderr: []byte("err"), err: utilexec.CodeExitError{Err: errors.New("exit status 2"), Code: 2}},
			want: Failure, wantMsg: "out err"},
		{name: "static env expanded, others kept", cmd: []string{"wget", "-qO-", "localhost:$(PORT)/health", "$(SECRET)", "$$(PORT)"}, timeout: 3,
			want: Success, wantCmd: []string{"wget", "-qO-", "localhost:8000/health", "$(SECRET)", "$(PORT)"}, wantTimeout: 3 * time.Second},
		{name: "runtime timeout", cmd: []string{"sleep", "10"},
			fake: fakeExecer{err: fmt.Errorf("%w: %q timed out after 1s", criclient.ErrCommandTimedOut, "sleep 10")},
			want: Failure, wantMsg: `command timed out: "sleep 10" timed out after 1s`},
		{name: "gRPC deadline", cmd: []string{"sleep", "10"},
			fake: fakeExecer{err: grpcstatus.Error(grpccodes.DeadlineExceeded, "deadline")},
			want: Failure, wantMsg: `command timed out: "sleep 10" did not finish within 1s`},
		{name: "output kept up to 10 KiB", cmd: []string{"yes"}, fake: fakeExecer{stdout: []byte(strings.Repeat("y\n", 6000))},
			want: Success, wantMsg: strings.Repeat("y\n", 5120)},
		{name: "runtime error", cmd: []string{"true"}, fake: fakeExecer{err: errors.New("container not found")},
			want: Unknown, wantMsg: "container not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := tt.fake
			p := &Prober{Runtime: &fake}
			got, msg := p.Probe(context.Background(), podWithIP("10.0.0.1"), container, "c1",
				&corev1.Probe{TimeoutSeconds: tt.timeout, ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: tt.cmd}}})
			if got != tt.want || msg != tt.wantMsg {
				t.Errorf("got %v %q, want %v %q", got, truncate(msg), tt.want, truncate(tt.wantMsg))
			}
			if fake.gotID != "c1" {
				t.Errorf("exec in %q, want c1", fake.gotID)
			}
			if tt.wantCmd != nil && strings.Join(fake.gotCmd, "\x00") != strings.Join(tt.wantCmd, "\x00") {
				t.Errorf("command %q, want %q", fake.gotCmd, tt.wantCmd)
			}
			if tt.wantTimeout != 0 && fake.gotTimeout != tt.wantTimeout {
				t.Errorf("timeout %v, want %v", fake.gotTimeout, tt.wantTimeout)
			}
		})
	}
	if got, msg := (&Prober{}).Probe(context.Background(), podWithIP("10.0.0.1"), container, "c1",
		&corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}); got != Unknown {
		t.Errorf("exec without a runtime: %v %q, want unknown", got, msg)
	}
}

func TestGRPCProbe(t *testing.T) {
	serve := func(withHealth bool) int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer()
		if withHealth {
			h := health.NewServer()
			h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
			h.SetServingStatus("model", healthpb.HealthCheckResponse_NOT_SERVING)
			healthpb.RegisterHealthServer(s, h)
		}
		go s.Serve(ln)
		t.Cleanup(s.Stop)
		return ln.Addr().(*net.TCPAddr).Port
	}
	healthy, bare := serve(true), serve(false)
	str := func(s string) *string { return &s }
	tests := []struct {
		name       string
		port       int
		service    *string
		want       Result
		wantPrefix string
	}{
		{name: "serving", port: healthy, want: Success, wantPrefix: "service healthy"},
		{name: "not serving", port: healthy, service: str("model"), want: Failure, wantPrefix: `service unhealthy (responded with "NOT_SERVING")`},
		{name: "unknown service", port: healthy, service: str("other"), want: Failure, wantPrefix: "error: health rpc probe failed: rpc error: code = NotFound"},
		{name: "no health service", port: bare, want: Failure, wantPrefix: "error: this server does not implement the grpc health protocol"},
		{name: "nothing listening", port: closedPort(t), want: Failure, wantPrefix: "error: health rpc probe failed: rpc error: code = Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := (&Prober{}).Probe(context.Background(), podWithIP("127.0.0.1"), &corev1.Container{Name: "model"}, "c1",
				&corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: int32(tt.port), Service: tt.service}}})
			if got != tt.want || !strings.HasPrefix(msg, tt.wantPrefix) {
				t.Errorf("got %v %q, want %v starting %q", got, msg, tt.want, tt.wantPrefix)
			}
		})
	}
}

func TestProbeWithoutHandler(t *testing.T) {
	got, msg := (&Prober{}).Probe(context.Background(), podWithIP("10.0.0.1"), &corev1.Container{Name: "model"}, "c1", &corev1.Probe{})
	if got != Unknown || !strings.Contains(msg, "has no handler") {
		t.Errorf("got %v %q, want unknown: no handler", got, msg)
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{Success: "success", Failure: "failure", Unknown: "unknown"} {
		if r.String() != want {
			t.Errorf("%d.String() = %q, want %q", r, r.String(), want)
		}
	}
}
