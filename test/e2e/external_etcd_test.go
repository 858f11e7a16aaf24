package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"skiff.dev/skiff/internal/pki"
)

// TestSeedWorkflowExternalEtcd runs the same workflow with the server on an
// external etcd (Debian's etcd-server, started here) that, as every
// production etcd, serves TLS and requires client certificates.
func TestSeedWorkflowExternalEtcd(t *testing.T) {
	t.Parallel()
	e := startEtcd(t)
	s := startServer(t, e.flags()...)
	seedWorkflow(t, s)
}

// externalEtcd is an etcd started by a test: its client URL, its CA and a
// client certificate it accepts.
type externalEtcd struct {
	url, ca, clientCert, clientKey string
}

// flags are the flags of skiff server that reach it.
func (e externalEtcd) flags() []string {
	return []string{"--etcd-endpoints", e.url, "--etcd-cafile", e.ca, "--etcd-certfile", e.clientCert, "--etcd-keyfile", e.clientKey}
}

// startEtcd runs Debian's etcd for the test with certificates of a CA of
// its own: clients and peers on https, a client certificate required
// (--client-cert-auth).
func startEtcd(t *testing.T) externalEtcd {
	t.Helper()
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd is not installed: `make deps` installs Debian's etcd-server")
	}
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, "tls")
	ca, err := pki.LoadOrCreateCA(tlsDir)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(name string, l pki.Leaf) (string, string) {
		cert, key := filepath.Join(tlsDir, name+".crt"), filepath.Join(tlsDir, name+".key")
		if err := ca.EnsureLeaf(cert, key, l); err != nil {
			t.Fatal(err)
		}
		return cert, key
	}
	serverCert, serverKey := leaf("etcd", pki.Leaf{CommonName: "etcd", DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	e := externalEtcd{ca: ca.CertFile}
	e.clientCert, e.clientKey = leaf("apiserver-etcd-client", pki.Leaf{CommonName: "apiserver-etcd-client"})

	client, peer := freePort(t), freePort(t)
	e.url = fmt.Sprintf("https://127.0.0.1:%d", client)
	peerURL := fmt.Sprintf("https://127.0.0.1:%d", peer)
	cmd := exec.Command(etcdBin, "--data-dir", filepath.Join(dir, "data"), "--name", "e2e",
		"--listen-client-urls", e.url, "--advertise-client-urls", e.url,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "e2e="+peerURL,
		"--cert-file", serverCert, "--key-file", serverKey, "--trusted-ca-file", ca.CertFile, "--client-cert-auth",
		"--peer-cert-file", serverCert, "--peer-key-file", serverKey, "--peer-trusted-ca-file", ca.CertFile, "--peer-client-cert-auth")
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
	return e
}
