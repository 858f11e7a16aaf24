package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"
)

// TestSeedWorkflowExternalEtcd runs the same workflow with the server on an
// external etcd (Debian's etcd-server, started here).
func TestSeedWorkflowExternalEtcd(t *testing.T) {
	s := startServer(t, "--etcd-endpoints", startEtcd(t))
	seedWorkflow(t, s)
}

// startEtcd runs Debian's etcd for the test and returns its client URL.
func startEtcd(t *testing.T) string {
	t.Helper()
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd is not installed: `make deps` installs Debian's etcd-server")
	}
	client, peer := freePort(t), freePort(t)
	dir := t.TempDir()
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", client)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	cmd := exec.Command(etcdBin, "--data-dir", dir, "--name", "e2e",
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "e2e="+peerURL)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("etcd log:\n%s", tail(log.String(), 3000))
		}
	})
	err = poll(50*time.Millisecond, 20*time.Second, func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", client), time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		t.Fatalf("etcd did not listen: %v; its log:\n%s", err, log.String())
	}
	return clientURL
}
