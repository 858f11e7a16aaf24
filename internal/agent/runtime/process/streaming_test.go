//go:build integration

package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"
)

// stream runs a SPDY remote command against a streaming URL, as the
// kubelet server's proxy lets kubectl do.
func stream(t *testing.T, rawURL string, opts remotecommand.StreamOptions) error {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := remotecommand.NewSPDYExecutor(&restclient.Config{Host: u.Scheme + "://" + u.Host}, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return ex.StreamWithContext(ctx, opts)
}

func TestStreamingExec(t *testing.T) {
	e := newTestRuntime(t)
	sid, sc := e.sandbox(t, "sexec")
	cc := containerConfig("main", "exec "+busybox+" sleep 100")
	cc.Envs = []*runtimeapi.KeyValue{{Key: "GCP_PROJECT", Value: []byte("demo")}}
	id := e.run(t, sid, sc, cc)

	tests := []struct {
		name       string
		cmd        []string
		stdin      string
		tty        bool
		wantStdout string
		wantCode   int
	}{
		{"env", []string{busybox, "env"}, "", false, "GCP_PROJECT=demo", 0},
		{"stdin", []string{busybox, "sh", "-c", "read x; echo got $x"}, "hello\n", false, "got hello", 0},
		{"exit code", []string{busybox, "sh", "-c", "exit 4"}, "", false, "", 4},
		{"tty", []string{busybox, "sh", "-c", "test -t 0 && echo is-a-tty"}, "", true, "is-a-tty", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := e.r.Exec(context.Background(), &runtimeapi.ExecRequest{
				ContainerId: id, Cmd: tt.cmd, Tty: tt.tty, Stdin: tt.stdin != "", Stdout: true, Stderr: !tt.tty,
			})
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			opts := remotecommand.StreamOptions{Stdout: &stdout, Tty: tt.tty}
			if !tt.tty {
				opts.Stderr = &stderr
			}
			if tt.stdin != "" {
				opts.Stdin = strings.NewReader(tt.stdin)
			}
			err = stream(t, resp.Url, opts)
			code := 0
			var ee utilexec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitStatus()
			} else if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if code != tt.wantCode || !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("exit %d stdout %q stderr %q, want %d with %q", code, stdout.String(), stderr.String(), tt.wantCode, tt.wantStdout)
			}
		})
	}
}

func TestAttach(t *testing.T) {
	e := newTestRuntime(t)
	sid, sc := e.sandbox(t, "attach")
	cc := containerConfig("echo", "while read line; do echo \"echo: $line\"; done; echo bye")
	cc.Stdin, cc.StdinOnce = true, true
	id := e.run(t, sid, sc, cc)
	resp, err := e.r.Attach(context.Background(), &runtimeapi.AttachRequest{ContainerId: id, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = stream(t, resp.Url, remotecommand.StreamOptions{Stdin: strings.NewReader("one\ntwo\n"), Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	st := e.waitExited(t, id, 10*time.Second)
	if st.ExitCode != 0 {
		t.Errorf("exit %d", st.ExitCode)
	}
	log := readLog(t, st.LogPath)
	for _, want := range []string{"stdout F echo: one\n", "stdout F echo: two\n", "stdout F bye\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if !strings.Contains(stdout.String(), "echo: two") {
		t.Errorf("attached stdout %q lacks the container's output", stdout.String())
	}
}

func TestTTYContainer(t *testing.T) {
	e := newTestRuntime(t)
	sid, sc := e.sandbox(t, "tty")
	cc := containerConfig("tty", "test -t 1 && echo stdout-is-a-tty")
	cc.Tty = true
	id := e.run(t, sid, sc, cc)
	st := e.waitExited(t, id, 10*time.Second)
	if log := readLog(t, st.LogPath); !strings.Contains(log, "stdout F stdout-is-a-tty") {
		t.Errorf("log:\n%s", log)
	}
}

// A runtime that starts where a crashed one left pods behind removes them.
func TestCleanupAfterCrash(t *testing.T) {
	e := newTestRuntime(t)
	sid, sc := e.sandbox(t, "crash")
	id := e.run(t, sid, sc, containerConfig("sleeper", "exec "+busybox+" sleep 100"))
	st, _ := e.r.ContainerStatus(context.Background(), id, true)
	pid := st.Info["pid"]
	ps, _ := e.r.PodSandboxStatus(context.Background(), sid, true)
	netnsPath := ps.Info["netns"]

	r2, err := New(context.Background(), Config{
		StateDir: e.r.cfg.StateDir, PodCIDR: e.cidr, BridgeName: e.bridge,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close(context.Background())
	e.waitExited(t, id, 10*time.Second) // the first runtime sees its process killed
	if _, err := os.Stat("/proc/" + pid); err == nil {
		t.Errorf("process %s survived", pid)
	}
	if _, err := os.Stat(netnsPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns %s survived", netnsPath)
	}
	if _, err := os.Stat(filepath.Join(e.r.cfg.StateDir, "pods")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pod directories survived: %v", err)
	}
	if n, err := strconv.Atoi(pid); err != nil || n <= 0 {
		t.Errorf("bad pid %q", pid)
	}
	_ = sc
}

func TestStreamingPortForward(t *testing.T) {
	e := newTestRuntime(t)
	sid, sc := e.sandbox(t, "spf")
	port := 30000 + int32(time.Now().UnixNano()%10000)
	e.run(t, sid, sc, containerConfig("srv", fmt.Sprintf("exec %s nc -ll -p %d -e %s echo pong", busybox, port, busybox)))
	// The server listens before kubectl's forwarder, which stops at the
	// first refused connection, is used.
	e.waitForward(t, sid, port)
	resp, err := e.r.PortForward(context.Background(), &runtimeapi.PortForwardRequest{PodSandboxId: sid, Port: []int32{port}})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(resp.Url)
	rt, upgrader, err := spdy.RoundTripperFor(&restclient.Config{Host: u.Scheme + "://" + u.Host})
	if err != nil {
		t.Fatal(err)
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, "POST", u)
	stop, ready := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- pf.ForwardPorts() }()
	defer func() { close(stop); <-errc }()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("ForwardPorts: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("port forward not ready")
	}
	ports, _ := pf.GetPorts()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	b, _ := io.ReadAll(c)
	c.Close()
	reply := string(b)
	if reply != "pong\n" {
		t.Errorf("read %q through kubectl-style port-forward, want pong", reply)
	}
}
