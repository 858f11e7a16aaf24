package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slogLine is a line of slog's TextHandler, the handler skiff's main logs
// through (and, through it, etcd, k8s.io/apiserver and client-go).
var slogLine = regexp.MustCompile(`^time=\S+ level=(DEBUG|INFO|WARN|ERROR)(\+\d+)? msg=`)

// TestServerLog runs a server through a start, the seed's deployment and a
// rollout, and a stop on SIGINT (Ctrl-C), and checks its log: one format, no
// error, no retried conflict, no stack trace, and exit status 0.
func TestServerLog(t *testing.T) {
	t.Parallel()
	s := &server{t: t, dataDir: t.TempDir(), port: freePort(t)}
	s.Kubeconfig = filepath.Join(s.dataDir, "kubeconfig.yaml")
	var stdout, stderr syncBuffer
	s.cmd = exec.Command(skiffBin, "server", "--data-dir", s.dataDir, "--port", fmt.Sprint(s.port),
		"--bind-address", "127.0.0.1", "--unsafe-no-fsync", "--runtime", "fake", "--kubelet-port", fmt.Sprint(freePort(t)),
		"--hollow-nodes", "2")
	s.cmd.Stdout, s.cmd.Stderr = &stdout, &stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("skiff server stderr:\n%s", tail(stderr.String(), 8000))
		}
	})
	eventually(t, 60*time.Second, "skiff server ready", func() bool {
		return strings.Contains(stderr.String(), "skiff server ready")
	})

	eventually(t, 30*time.Second, "3 nodes Ready", func() bool {
		return len(regexp.MustCompile(`(?m)^\S+\s+Ready\s`).FindAllString(s.ok("get", "nodes", "--no-headers"), -1)) == 3
	})
	deploySeed(t, s)
	s.ok("rollout", "status", "deployment/ml-model", "-n", seedNS, "--timeout=120s")
	// A rollout: the deployment controller's writes race the ReplicaSet
	// controller's status updates (409 Conflict, retried quietly).
	s.ok("set", "image", "deployment/ml-model", "ml-model=gcr.io/my-project/ml-model:v3", "-n", seedNS)
	s.ok("rollout", "status", "deployment/ml-model", "-n", seedNS, "--timeout=120s")
	s.ok("get", "pods,services,deployments,replicasets", "-n", seedNS)

	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("skiff server exited with %v, want status 0", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("skiff server did not exit within 60s of SIGINT")
	}

	log := stderr.String()
	if strings.TrimSpace(log) == "" {
		t.Fatal("skiff server wrote nothing to stderr")
	}
	for i, line := range strings.Split(strings.TrimRight(log, "\n"), "\n") {
		switch {
		case !slogLine.MatchString(line):
			t.Errorf("stderr line %d is not slog's text format: %s", i+1, line)
		case strings.Contains(line, " level=ERROR"):
			t.Errorf("stderr line %d is an error: %s", i+1, line)
		case strings.Contains(line, "Operation cannot be fulfilled"):
			// 409 Conflict: a write raced another and is retried; that is
			// debug-level news.
			t.Errorf("stderr line %d reports a conflict: %s", i+1, line)
		}
	}
	for _, trace := range []string{"goroutine ", "panic", "stacktrace"} {
		if strings.Contains(log, trace) {
			t.Errorf("stderr holds %q (a stack trace?)", trace)
		}
	}
	if out := stdout.String(); out != "" {
		t.Logf("stdout:\n%s", out)
	}
}
