package kubeletserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"skiff.dev/skiff/internal/metricstest"
	"skiff.dev/skiff/internal/pki"
)

// fakeRuntime answers ContainerStatus from a map and hands exec, attach and
// port-forward to a real cri-streaming server backed by echoStreams.
type fakeRuntime struct {
	streams streaming.Server

	mu      sync.Mutex
	running map[string]bool
}

func (f *fakeRuntime) setRunning(id string, running bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[id] = running
}

func (f *fakeRuntime) ContainerStatus(_ context.Context, id string, _ bool) (*runtimeapi.ContainerStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	state := runtimeapi.ContainerState_CONTAINER_EXITED
	if f.running[id] {
		state = runtimeapi.ContainerState_CONTAINER_RUNNING
	}
	return &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{Id: id, State: state}}, nil
}

func (f *fakeRuntime) Exec(_ context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return f.streams.GetExec(req)
}

func (f *fakeRuntime) Attach(_ context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return f.streams.GetAttach(req)
}

func (f *fakeRuntime) PortForward(_ context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return f.streams.GetPortForward(req)
}

// echoStreams is the streaming side: exec "echo a b" prints its
// arguments, "cat" copies stdin, "fail" exits 3; attach copies stdin
// upper-cased; port-forward answers "<sandbox>:<port>:" then echoes.
type echoStreams struct{}

func (echoStreams) Exec(_ context.Context, id string, cmd []string, in io.Reader, out, _ io.WriteCloser, _ bool, _ <-chan remotecommandserver.TerminalSize) error {
	switch cmd[0] {
	case "echo":
		fmt.Fprintf(out, "%s: %s\n", id, strings.Join(cmd[1:], " "))
	case "cat":
		_, _ = io.Copy(out, in)
	case "fail":
		return utilexec.CodeExitError{Err: errors.New("command failed"), Code: 3}
	}
	return nil
}

func (echoStreams) Attach(_ context.Context, _ string, in io.Reader, out, _ io.WriteCloser, _ bool, _ <-chan remotecommandserver.TerminalSize) error {
	b, _ := io.ReadAll(in)
	_, _ = out.Write(bytes.ToUpper(b))
	return nil
}

func (echoStreams) PortForward(_ context.Context, sandbox string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	fmt.Fprintf(stream, "%s:%d:", sandbox, port)
	_, err := io.Copy(stream, stream)
	return err
}

type fakePods struct {
	current, previous map[string]ContainerRef
}

func (p fakePods) Container(ns, pod, container string, previous bool) (ContainerRef, error) {
	if pod != "web" {
		return ContainerRef{}, PodNotFound(pod)
	}
	key := ns + "/" + pod + "/" + container
	ref, ok := p.current[key]
	if !ok {
		return ContainerRef{}, ContainerNotFound(container, pod)
	}
	if previous {
		if ref, ok = p.previous[key]; !ok {
			return ContainerRef{}, PreviousNotFound(container, pod)
		}
	}
	return ref, nil
}

func (p fakePods) List() ([]*corev1.Pod, error) {
	return []*corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "web"}}}, nil
}

func (p fakePods) Sandbox(_, pod string) (string, error) {
	if pod != "web" {
		return "", PodNotFound(pod)
	}
	return "sandbox-1", nil
}

type harness struct {
	t       *testing.T
	rt      *fakeRuntime
	srv     *Server
	base    string
	api     *rest.Config // the API server's client certificate
	ca      *pki.CA
	logDir  string
	servers *x509.CertPool
	caPEM   []byte
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	ts := httptest.NewUnstartedServer(nil)
	cfg := streaming.DefaultConfig
	cfg.Addr = ts.Listener.Addr().String()
	cfg.BaseURL = &url.URL{Scheme: "http", Host: cfg.Addr}
	streams, err := streaming.NewServer(cfg, echoStreams{})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = streams
	ts.Start()
	t.Cleanup(ts.Close)

	logDir := t.TempDir()
	rt := &fakeRuntime{streams: streams, running: map[string]bool{}}
	pods := fakePods{
		current: map[string]ContainerRef{
			"prod/web/app":     {ID: "c2", LogPath: filepath.Join(logDir, "app", "1.log")},
			"prod/web/sidecar": {ID: "c3", LogPath: filepath.Join(logDir, "sidecar", "0.log")},
		},
		previous: map[string]ContainerRef{"prod/web/app": {ID: "c1", LogPath: filepath.Join(logDir, "app", "0.log")}},
	}
	certDir := t.TempDir()
	certFile, keyFile := filepath.Join(certDir, "serving.crt"), filepath.Join(certDir, "serving.key")
	if err := ca.EnsureLeaf(certFile, keyFile, pki.Leaf{CommonName: "system:node:node-a", IPs: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"node-a"}}); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Addr: "127.0.0.1:0", Runtime: rt, Pods: pods, Auth: testAuth(t, ca), NodeName: "node-a",
		CertFile: certFile, KeyFile: keyFile, Stats: fixedStats{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	caPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	servers := x509.NewCertPool()
	servers.AppendCertsFromPEM(caPEM)
	h := &harness{t: t, rt: rt, srv: srv, base: "https://" + srv.Addr().String(), ca: ca, logDir: logDir, servers: servers, caPEM: caPEM}
	h.api = h.restConfig(ca, APIServerUser)
	return h
}

// restConfig is a client config with a certificate for user in groups
// signed by ca, trusting the cluster CA for the server's certificate.
func (h *harness) restConfig(ca *pki.CA, user string, groups ...string) *rest.Config {
	h.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	cert, err := ca.Sign(key.Public(), pki.Leaf{CommonName: user, Organization: groups})
	if err != nil {
		h.t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		h.t.Fatal(err)
	}
	return &rest.Config{
		Host: h.base,
		TLSClientConfig: rest.TLSClientConfig{
			CertData: pemBlock("CERTIFICATE", cert.Raw),
			KeyData:  pemBlock("EC PRIVATE KEY", keyDER),
			CAData:   h.caPEM,
		},
	}
}

func (h *harness) client(cfg *rest.Config) *http.Client {
	h.t.Helper()
	tlsCfg := &tls.Config{RootCAs: h.servers}
	if cfg != nil {
		pair, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData)
		if err != nil {
			h.t.Fatal(err)
		}
		tlsCfg.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
}

func (h *harness) get(cfg *rest.Config, path string) (int, string) {
	h.t.Helper()
	resp, err := h.client(cfg).Get(h.base + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (h *harness) writeLog(rel string, lines ...string) {
	h.t.Helper()
	path := filepath.Join(h.logDir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		h.t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			h.t.Fatal(err)
		}
	}
}

func statusOf(t *testing.T, body string) metav1.Status {
	t.Helper()
	var st metav1.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("body %q is not a Status: %v", body, err)
	}
	if st.Kind != "Status" {
		t.Errorf("kind = %q, want Status", st.Kind)
	}
	return st
}

func TestContainerLogs(t *testing.T) {
	h := newHarness(t)
	h.writeLog("app/0.log", "2026-01-02T10:00:00.000000000Z stdout F old run")
	h.writeLog("app/1.log",
		"2026-01-02T10:00:01.000000000Z stdout F first",
		"2026-01-02T10:00:02.000000000Z stderr F second",
		"2026-01-02T10:00:03.000000000Z stdout P thi",
		"2026-01-02T10:00:03.100000000Z stdout F rd",
	)
	tests := []struct {
		name     string
		query    string
		code     int
		body     string
		contains string
	}{
		{name: "all", code: 200, body: "first\nsecond\nthird\n"},
		{name: "tail counts log lines", query: "?tailLines=1", code: 200, body: "rd\n"},
		{name: "tail", query: "?tailLines=2", code: 200, body: "third\n"},
		{name: "tail zero", query: "?tailLines=0", code: 200, body: ""},
		{name: "timestamps", query: "?tailLines=3&timestamps=true", code: 200,
			body: "2026-01-02T10:00:02.000000000Z second\n2026-01-02T10:00:03.000000000Z third\n"},
		{name: "since time", query: "?sinceTime=2026-01-02T10:00:02Z", code: 200, body: "second\nthird\n"},
		{name: "limit bytes", query: "?limitBytes=8", code: 200, body: "first\nse"},
		{name: "stdout only", query: "?stream=Stdout", code: 200, body: "first\nthird\n"},
		{name: "previous", query: "?previous=true", code: 200, body: "old run\n"},
		{name: "bad tail", query: "?tailLines=-1", code: 400, contains: "tailLines"},
		{name: "since both", query: "?sinceSeconds=5&sinceTime=2026-01-02T10:00:02Z", code: 400, contains: "at most one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := h.get(h.api, "/containerLogs/prod/web/app"+tt.query)
			if code != tt.code {
				t.Fatalf("code = %d, want %d (body %q)", code, tt.code, body)
			}
			if tt.contains != "" {
				if st := statusOf(t, body); !strings.Contains(st.Message, tt.contains) {
					t.Errorf("message %q does not contain %q", st.Message, tt.contains)
				}
				return
			}
			if body != tt.body {
				t.Errorf("body = %q, want %q", body, tt.body)
			}
		})
	}
}

func TestContainerLogsErrors(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		path    string
		code    int32
		message string
	}{
		{"/containerLogs/prod/web/sidecar?previous=true", 400, `previous terminated container "sidecar" in pod "web" not found`},
		{"/containerLogs/prod/web/nope", 404, `container "nope" not found in pod "web"`},
		{"/containerLogs/prod/other/app", 404, `pods "other" not found`},
	}
	for _, tt := range tests {
		code, body := h.get(h.api, tt.path)
		st := statusOf(t, body)
		if code != int(tt.code) || st.Code != tt.code || st.Message != tt.message {
			t.Errorf("%s: %d %d %q, want %d %q", tt.path, code, st.Code, st.Message, tt.code, tt.message)
		}
	}
	// A container with no log file yet has no output.
	if code, body := h.get(h.api, "/containerLogs/prod/web/sidecar"); code != 200 || body != "" {
		t.Errorf("logs before start: %d %q", code, body)
	}
}

func TestContainerLogsFollow(t *testing.T) {
	h := newHarness(t)
	h.rt.setRunning("c2", true)
	h.writeLog("app/1.log", "2026-01-02T10:00:01.000000000Z stdout F one")

	resp, err := h.client(h.api).Get(h.base + "/containerLogs/prod/web/app?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	readLine := func() string {
		t.Helper()
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, l)
		}
		return l
	}
	if l := readLine(); l != "one\n" {
		t.Fatalf("first line %q", l)
	}
	h.writeLog("app/1.log", "2026-01-02T10:00:02.000000000Z stdout F two")
	if l := readLine(); l != "two\n" {
		t.Fatalf("appended line %q", l)
	}
	h.rt.setRunning("c2", false)
	h.writeLog("app/1.log", "2026-01-02T10:00:03.000000000Z stderr F three")
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(rest) != "three\n" {
		t.Errorf("after exit: %q", rest)
	}
}

// TestAuthentication: every route needs a caller the cluster CA
// signed (401, plain text as the kubelet's) whom the authorizer allows on
// the route's node subresource (403 naming them).
func TestAuthentication(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		cfg  *rest.Config
		path string
		code int
		body string
	}{
		{"no certificate", nil, "/pods", 401, "Unauthorized"},
		{"no certificate exec", nil, "/exec/prod/web/app?command=ls&output=1", 401, "Unauthorized"},
		{"no certificate healthz", nil, "/healthz", 401, "Unauthorized"},
		{"certificate of another CA", h.restConfig(h.otherCA(), APIServerUser), "/containerLogs/prod/web/sidecar", 401, "Unauthorized"},
		{"a node on logs", h.restConfig(h.ca, "system:node:node-b", "system:nodes"), "/containerLogs/prod/web/sidecar", 403,
			"Forbidden (user=system:node:node-b, verb=get, resource=nodes, subresource(s)=[proxy])\n"},
		{"a node on exec", h.restConfig(h.ca, "system:node:node-b", "system:nodes"), "/exec/prod/web/app?command=ls&output=1", 403,
			"Forbidden (user=system:node:node-b, verb=get, resource=nodes, subresource(s)=[proxy])\n"},
		{"a node on pods", h.restConfig(h.ca, "system:node:node-b", "system:nodes"), "/pods", 403,
			"Forbidden (user=system:node:node-b, verb=get, resource=nodes, subresource(s)=[pods proxy])\n"},
		{"a metrics reader on logs", h.restConfig(h.ca, "metrics-reader"), "/containerLogs/prod/web/sidecar", 403,
			"Forbidden (user=metrics-reader, verb=get, resource=nodes, subresource(s)=[proxy])\n"},
		{"a metrics reader on metrics", h.restConfig(h.ca, "metrics-reader"), "/metrics", 200, ""},
		{"a metrics reader on stats", h.restConfig(h.ca, "metrics-reader"), "/stats/summary", 403,
			"Forbidden (user=metrics-reader, verb=get, resource=nodes, subresource(s)=[stats])\n"},
		{"the API server on logs", h.api, "/containerLogs/prod/web/sidecar", 200, ""},
		{"the API server on pods", h.api, "/pods", 200, ""},
		{"the API server on healthz", h.api, "/healthz", 200, "ok"},
		{"an administrator on exec", h.restConfig(h.ca, "system:admin", "system:masters"), "/exec/prod/web/app?command=ls&output=1", 400, ""},
		{"a failing authorizer", h.restConfig(h.ca, "broken"), "/pods", 500,
			"Authorization error (user=broken, verb=get, resource=nodes, subresource=pods)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := h.get(tt.cfg, tt.path)
			if code != tt.code || (tt.body != "" && body != tt.body) {
				t.Errorf("GET %s: %d %q, want %d %q", tt.path, code, body, tt.code, tt.body)
			}
		})
	}
}

// TestPods: GET /pods lists the node's pods as a v1 PodList.
func TestPods(t *testing.T) {
	h := newHarness(t)
	code, body := h.get(h.api, "/pods")
	var list corev1.PodList
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != 200 {
		t.Fatalf("GET /pods: %d %q (%v)", code, body, err)
	}
	if list.Kind != "PodList" || list.APIVersion != "v1" || len(list.Items) != 1 || list.Items[0].Name != "web" {
		t.Errorf("GET /pods = %s", body)
	}
}

// TestMetrics: /metrics is the process's Prometheus registry.
func TestMetrics(t *testing.T) {
	h := newHarness(t)
	got := metricstest.Get(t, h.client(h.api), h.base+"/metrics")
	if missing := got.Missing("go_goroutines", "process_start_time_seconds"); len(missing) > 0 {
		t.Errorf("families %v missing from /metrics", missing)
	}
}

func (h *harness) otherCA() *pki.CA {
	h.t.Helper()
	ca, err := pki.LoadOrCreateCA(h.t.TempDir())
	if err != nil {
		h.t.Fatal(err)
	}
	return ca
}

func TestExec(t *testing.T) {
	h := newHarness(t)
	// run streams as kubectl does: the streams it asks for in the query.
	run := func(exec remotecommand.Executor, stdin io.Reader, stderr bool) (string, error) {
		var out, errOut bytes.Buffer
		opts := remotecommand.StreamOptions{Stdin: stdin, Stdout: &out}
		if stderr {
			opts.Stderr = &errOut
		}
		err := exec.StreamWithContext(context.Background(), opts)
		return out.String(), err
	}
	spdyExec := func(query string) remotecommand.Executor {
		u, _ := url.Parse(h.base + "/exec/prod/web/app?" + query)
		e, err := remotecommand.NewSPDYExecutor(h.api, "POST", u)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}

	out, err := run(spdyExec("command=echo&command=hello&command=world&output=1&error=1"), nil, true)
	if err != nil || out != "c2: hello world\n" {
		t.Errorf("echo over SPDY: %q, %v", out, err)
	}
	out, err = run(spdyExec("command=cat&input=1&output=1"), strings.NewReader("piped\n"), false)
	if err != nil || out != "piped\n" {
		t.Errorf("cat over SPDY: %q, %v", out, err)
	}
	_, err = run(spdyExec("command=fail&output=1&error=1"), nil, true)
	var exitErr interface{ ExitStatus() int }
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 3 {
		t.Errorf("fail: err %v, want exit code 3", err)
	}

	// The API server translates kubectl's v5 WebSocket to SPDY; v4
	// WebSockets pass through to the runtime.
	ws, err := remotecommand.NewWebSocketExecutorForProtocols(h.api, "GET", h.base+"/exec/prod/web/app?command=echo&command=ws&output=1&error=1", "v4.channel.k8s.io")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := run(ws, nil, true); err != nil || out != "c2: ws\n" {
		t.Errorf("echo over WebSocket: %q, %v", out, err)
	}

	u, _ := url.Parse(h.base + "/attach/prod/web/app?input=1&output=1")
	attach, err := remotecommand.NewSPDYExecutor(h.api, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := run(attach, strings.NewReader("attached"), false); err != nil || out != "ATTACHED" {
		t.Errorf("attach: %q, %v", out, err)
	}

	// Refusals come back as Status before any upgrade.
	code, body := h.get(h.api, "/exec/prod/web/app?command=ls")
	if st := statusOf(t, body); code != 400 || !strings.Contains(st.Message, "at least 1 of stdin, stdout, stderr") {
		t.Errorf("exec without streams: %d %q", code, st.Message)
	}
	code, body = h.get(h.api, "/exec/prod/web/nope?command=ls&output=1")
	if st := statusOf(t, body); code != 404 || st.Message != `container "nope" not found in pod "web"` {
		t.Errorf("exec in unknown container: %d %q", code, st.Message)
	}
}

func TestPortForward(t *testing.T) {
	h := newHarness(t)
	transport, upgrader, err := spdy.RoundTripperFor(h.api)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(h.base + "/portForward/prod/web")
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", u)
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.New(dialer, []string{"0:8000"}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	defer func() {
		close(stop)
		<-done
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("ForwardPorts: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("port forward not ready")
	}
	ports, err := fw.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	want := "sandbox-1:8000:ping"
	buf := make([]byte, len(want))
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != want {
		t.Errorf("forwarded: %q, %v; want %q", buf, err, want)
	}
}

func TestServingCertificateReused(t *testing.T) {
	dir := t.TempDir()
	first, err := servingCert(dir, []string{"10.0.0.1", "node-a"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := servingCert(dir, []string{"node-a"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Certificate[0], again.Certificate[0]) {
		t.Error("certificate remade although it covers the hosts")
	}
	moved, err := servingCert(dir, []string{"10.0.0.2", "node-a"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(moved.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first.Certificate[0], moved.Certificate[0]) || cert.VerifyHostname("10.0.0.2") != nil {
		t.Error("certificate not remade for a new address")
	}
	if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("key %T, want ECDSA", cert.PublicKey)
	}
}
