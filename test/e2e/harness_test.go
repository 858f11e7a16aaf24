// Package e2e drives the upstream kubectl and client-go against a real
// `skiff server` process, as a user would.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	skiffBin   string
	kubectlBin string
	helmBin    string
	repoRoot   string
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	skiffBin, kubectlBin, helmBin = os.Getenv("SKIFF_BIN"), os.Getenv("KUBECTL_BIN"), os.Getenv("HELM_BIN")
	if skiffBin == "" || kubectlBin == "" || helmBin == "" {
		dir, err := os.MkdirTemp("", "skiff-e2e-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		skiffBin, kubectlBin, helmBin = filepath.Join(dir, "skiff"), filepath.Join(dir, "kubectl"), filepath.Join(dir, "helm")
		ldflags, err := exec.Command(filepath.Join(repoRoot, "hack", "ldflags.sh")).Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "hack/ldflags.sh:", err)
			os.Exit(1)
		}
		for bin, pkg := range map[string]string{skiffBin: "./cmd/skiff", kubectlBin: "./cmd/kubectl", helmBin: "./cmd/helm"} {
			cmd := exec.Command("go", "build", "-ldflags", strings.TrimSpace(string(ldflags)), "-o", bin, pkg)
			cmd.Dir, cmd.Stdout, cmd.Stderr = repoRoot, os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "build", pkg, err)
				os.Exit(1)
			}
		}
	}
	os.Exit(m.Run())
}

// server is a running `skiff server` process.
type server struct {
	t          *testing.T
	dataDir    string
	port       int
	args       []string
	cmd        *exec.Cmd
	log        *syncBuffer
	Kubeconfig string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePort is a port free on every address: nodes listen on the host's
// address (their kubelet port), not only on loopback, so a port free on
// 127.0.0.1 alone may be taken.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freeDNSPort is a port free for both TCP and UDP on every address.
func freeDNSPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		port := freePort(t)
		if pc, err := net.ListenPacket("udp", fmt.Sprintf(":%d", port)); err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

// startServer starts skiff server on a fresh data dir (or dataDir when the
// test restarts one) and waits until it is ready. It is stopped when the test
// ends. Unless the test chooses a --runtime, the server runs no node of its
// own (--disable-agent).
//
// A test whose nodes are all simulated (hollow nodes, agents with --runtime
// fake) or that runs none calls t.Parallel: such servers share nothing but
// loopback ports. A test with a real node (process or cri) changes the
// host's network and runs alone.
func startServer(t *testing.T, extraArgs ...string) *server {
	t.Helper()
	if !slices.ContainsFunc(extraArgs, func(a string) bool { return strings.HasPrefix(a, "--runtime") }) {
		extraArgs = append([]string{"--disable-agent"}, extraArgs...)
	}
	// Tests run servers side by side on one host: each cluster DNS takes a
	// port of its own (its kube-dns Endpoints carry it), not all port 53.
	// The port is chosen here, not by the server, so that a restarted
	// server keeps it, as port 53 stays 53.
	if !slices.ContainsFunc(extraArgs, func(a string) bool { return strings.HasPrefix(a, "--cluster-dns-port") }) {
		extraArgs = append([]string{"--cluster-dns-port", fmt.Sprint(freeDNSPort(t))}, extraArgs...)
	}
	s := &server{t: t, dataDir: t.TempDir(), port: freePort(t), args: extraArgs}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	t := s.t
	t.Helper()
	args := append([]string{"server", "--data-dir", s.dataDir, "--port", fmt.Sprint(s.port), "--bind-address", "127.0.0.1", "--unsafe-no-fsync"}, s.args...)
	s.cmd = exec.Command(skiffBin, args...)
	s.log = &syncBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Kubeconfig = filepath.Join(s.dataDir, "kubeconfig.yaml")
	err := poll(20*time.Millisecond, 60*time.Second, func() error {
		if !strings.Contains(s.log.String(), "skiff server ready") {
			return errors.New("no \"skiff server ready\" in its log")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("skiff server not ready: %v; its log:\n%s", err, s.log.String())
	}
}

// stop sends SIGTERM and waits for the process.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
	if s.t.Failed() {
		s.t.Logf("skiff server log:\n%s", tail(s.log.String(), 4000))
		// SKIFF_E2E_LOG_DIR keeps the whole log of a failed test's server.
		if dir := os.Getenv("SKIFF_E2E_LOG_DIR"); dir != "" {
			name := filepath.Join(dir, strings.ReplaceAll(s.t.Name(), "/", "_")+".log")
			if err := os.WriteFile(name, []byte(s.log.String()), 0o644); err == nil {
				s.t.Logf("whole server log: %s", name)
			}
		}
	}
}

func (s *server) restart() {
	s.stop()
	s.start()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func (s *server) restConfig() *rest.Config {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		s.t.Fatal(err)
	}
	return cfg
}

func (s *server) client() kubernetes.Interface {
	c, err := kubernetes.NewForConfig(s.restConfig())
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// result is what a kubectl run printed.
type result struct {
	Stdout, Stderr string
	Code           int
}

// kubectl runs the upstream kubectl against the server.
func (s *server) kubectl(stdin string, env []string, args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlBin, args...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+s.Kubeconfig), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			s.t.Fatalf("kubectl %v: %v", args, err)
		}
	}
	return result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// ok runs kubectl and fails the test unless it exits 0 with nothing on stderr
// (a warning on stderr is a compatibility defect).
func (s *server) ok(args ...string) string {
	s.t.Helper()
	r := s.kubectl("", nil, args...)
	if r.Code != 0 || strings.TrimSpace(r.Stderr) != "" {
		s.t.Fatalf("kubectl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// fails runs kubectl and fails the test unless it exits non-zero; it returns
// stderr.
func (s *server) fails(args ...string) string {
	s.t.Helper()
	r := s.kubectl("", nil, args...)
	if r.Code == 0 {
		s.t.Fatalf("kubectl %s succeeded, want an error\nstdout:\n%s", strings.Join(args, " "), r.Stdout)
	}
	return r.Stderr
}

// rawGet does an HTTPS GET with no client certificate.
func (s *server) anonymousGet(path string) int {
	s.t.Helper()
	cfg := s.restConfig()
	anon := rest.AnonymousClientConfig(cfg)
	rt, err := rest.TransportFor(anon)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: rt, Timeout: 10 * time.Second}).Get(cfg.Host + path)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func execKubectl(s *server, args ...string) *exec.Cmd {
	cmd := exec.Command(kubectlBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig)
	return cmd
}

// kill ends the server with SIGKILL, as a crash would.
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// joinToken is the token agents join this server with.
func (s *server) joinToken() string {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dataDir, "token"))
	if err != nil {
		s.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// agent is a running `skiff agent` process.
type agent struct {
	t   *testing.T
	cmd *exec.Cmd
	log *syncBuffer
	// dataDir is the agent's --data-dir (its node kubeconfig is there),
	// when startAgent chose it.
	dataDir string
}

// startAgent joins a `skiff agent` named name to s; it is stopped when the
// test ends.
func startAgent(t *testing.T, s *server, name string, extraArgs ...string) *agent {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"agent", "--server", fmt.Sprintf("https://127.0.0.1:%d", s.port), "--token", s.joinToken(),
		"--data-dir", dir, "--node-name", name}, extraArgs...)
	a := runAgent(t, name, exec.Command(skiffBin, args...), (*agent).kill)
	a.dataDir = dir
	return a
}

// runAgent starts cmd, a `skiff agent` of node name; when the test ends,
// stop ends it and, if the test failed, its log is shown.
func runAgent(t *testing.T, name string, cmd *exec.Cmd, stop func(*agent)) *agent {
	t.Helper()
	a := &agent{t: t, cmd: cmd, log: &syncBuffer{}}
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop(a)
		if t.Failed() {
			t.Logf("skiff agent %s log:\n%s", name, tail(a.log.String(), 3000))
		}
	})
	return a
}

// kill ends the agent with SIGKILL: its node stops heartbeating.
func (a *agent) kill() {
	if a.cmd.ProcessState != nil || a.cmd.Process == nil {
		return
	}
	_ = a.cmd.Process.Kill()
	_ = a.cmd.Wait()
}

// eventually polls cond every 100ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	err := poll(100*time.Millisecond, timeout, func() error {
		if !cond() {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// poll calls check every interval until it returns nil, then returns nil;
// once timeout passed, it returns check's last error.
func poll(interval, timeout time.Duration, check func() error) error {
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), interval, timeout, true,
		func(context.Context) (bool, error) {
			last = check()
			return last == nil, nil
		})
	if err != nil && last != nil {
		return last
	}
	return err
}
