package podsub_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	upgradeproxy "k8s.io/apimachinery/pkg/util/proxy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/utils/exec"

	"skiff.dev/skiff/internal/pki"
)

// fakeKubelet is a kubelet server on loopback: it requires the API server's
// client certificate, answers /containerLogs with fixed text and serves
// /exec, /attach and /portForward through a cri-streaming server over a
// fake runtime.
type fakeKubelet struct {
	t      *testing.T
	server *httptest.Server
	stream streaming.Server
	port   int

	mu       sync.Mutex
	requests []*url.URL // every request that reached a handler
	clients  []string   // CommonNames of the client certificates seen
}

// startFakeKubelet serves with a certificate of the cluster CA (whose
// files are beside caFile) for 127.0.0.1, or with selfSigned one of its
// own, which the API server must refuse.
func startFakeKubelet(t *testing.T, caFile string, selfSigned bool) *fakeKubelet {
	t.Helper()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate in", caFile)
	}
	k := &fakeKubelet{t: t}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := streaming.DefaultConfig
	cfg.Addr = l.Addr().String()
	cfg.BaseURL = &url.URL{Scheme: "http", Host: l.Addr().String()}
	k.stream, err = streaming.NewServer(cfg, fakeRuntime{})
	if err != nil {
		t.Fatal(err)
	}
	streamSrv := &http.Server{Handler: k.stream}
	go func() { _ = streamSrv.Serve(l) }()
	t.Cleanup(func() { _ = streamSrv.Close() })

	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", k.logs)
	mux.HandleFunc("/exec/{ns}/{pod}/{container}", k.exec)
	mux.HandleFunc("/attach/{ns}/{pod}/{container}", k.attach)
	mux.HandleFunc("/portForward/{ns}/{pod}", k.portForward)
	k.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		k.mu.Lock()
		k.clients = append(k.clients, cn)
		k.requests = append(k.requests, r.URL)
		k.mu.Unlock()
		if cn != "kube-apiserver-kubelet-client" {
			http.Error(w, "forbidden client "+cn, http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	k.server.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	if !selfSigned {
		ca, err := pki.LoadOrCreateCA(filepath.Dir(caFile))
		if err != nil {
			t.Fatal(err)
		}
		serving, err := ca.TLSCertificate(pki.Leaf{CommonName: "system:node:node-a", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, ServerOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		k.server.TLS.Certificates = []tls.Certificate{serving}
	}
	k.server.StartTLS()
	t.Cleanup(k.server.Close)
	k.port = k.server.Listener.Addr().(*net.TCPAddr).Port
	return k
}

// lastRequest returns the last URL that reached the kubelet.
func (k *fakeKubelet) lastRequest() *url.URL {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.requests) == 0 {
		return nil
	}
	return k.requests[len(k.requests)-1]
}

func (k *fakeKubelet) logs(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("container") == "broken" {
		http.Error(w, "log file is gone", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "log of %s/%s/%s\n", r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"))
	if r.URL.Query().Get("follow") == "true" {
		w.(http.Flusher).Flush()
		fmt.Fprintln(w, "followed line")
	}
}

func flag(q url.Values, name string) bool { return q.Get(name) == "1" }

func (k *fakeKubelet) exec(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	resp, err := k.stream.GetExec(&runtimeapi.ExecRequest{
		ContainerId: r.PathValue("ns") + "/" + r.PathValue("pod") + "/" + r.PathValue("container"),
		Cmd:         q["command"],
		Tty:         flag(q, "tty"), Stdin: flag(q, "input"), Stdout: flag(q, "output"), Stderr: flag(q, "error"),
	})
	k.proxy(w, r, resp.GetUrl(), err)
}

func (k *fakeKubelet) attach(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	resp, err := k.stream.GetAttach(&runtimeapi.AttachRequest{
		ContainerId: r.PathValue("ns") + "/" + r.PathValue("pod") + "/" + r.PathValue("container"),
		Tty:         flag(q, "tty"), Stdin: flag(q, "input"), Stdout: flag(q, "output"), Stderr: flag(q, "error"),
	})
	k.proxy(w, r, resp.GetUrl(), err)
}

func (k *fakeKubelet) portForward(w http.ResponseWriter, r *http.Request) {
	resp, err := k.stream.GetPortForward(&runtimeapi.PortForwardRequest{PodSandboxId: r.PathValue("ns") + "/" + r.PathValue("pod")})
	k.proxy(w, r, resp.GetUrl(), err)
}

// proxy hands the upgrade request to the streaming server, as the kubelet
// does.
func (k *fakeKubelet) proxy(w http.ResponseWriter, r *http.Request, target string, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	u, err := url.Parse(target)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	upgradeproxy.NewUpgradeAwareHandler(u, nil, false, true, errorResponder{}).ServeHTTP(w, r)
}

type errorResponder struct{}

func (errorResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// fakeRuntime runs "commands" in memory: echo prints its arguments, cat
// copies stdin to stdout, fail N exits with N; attach prints a greeting;
// port-forward echoes what it reads, prefixed with the port.
type fakeRuntime struct{}

func (fakeRuntime) Exec(_ context.Context, containerID string, cmd []string, in io.Reader, out, errOut io.WriteCloser, _ bool, _ <-chan remotecommandserver.TerminalSize) error {
	if len(cmd) == 0 {
		return fmt.Errorf("no command")
	}
	switch cmd[0] {
	case "echo":
		fmt.Fprintf(out, "%s in %s\n", strings.Join(cmd[1:], " "), containerID)
	case "cat":
		if in != nil {
			_, _ = io.Copy(out, in)
		}
	case "fail":
		code, _ := strconv.Atoi(cmd[1])
		fmt.Fprintln(errOut, "failing")
		return exec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	default:
		return fmt.Errorf("%s: not found", cmd[0])
	}
	return nil
}

func (fakeRuntime) Attach(_ context.Context, containerID string, _ io.Reader, out, _ io.WriteCloser, _ bool, _ <-chan remotecommandserver.TerminalSize) error {
	fmt.Fprintf(out, "attached to %s\n", containerID)
	return nil
}

func (fakeRuntime) PortForward(_ context.Context, podSandboxID string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	buf := make([]byte, 1024)
	n, err := stream.Read(buf)
	if err != nil && n == 0 {
		return nil
	}
	_, err = fmt.Fprintf(stream, "%s:%d got %s", podSandboxID, port, buf[:n])
	return err
}

func caFile(dataDir string) string { return filepath.Join(dataDir, "tls", "ca.crt") }
