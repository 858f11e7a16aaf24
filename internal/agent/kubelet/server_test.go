//go:build integration

package kubelet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"skiff.dev/skiff/internal/agent/kubeletserver"
	"skiff.dev/skiff/internal/pki"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestKubeletServerServesLogs(t *testing.T) {
	ca, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	servingCert, servingKey := filepath.Join(t.TempDir(), "serving.crt"), filepath.Join(t.TempDir(), "serving.key")
	if err := ca.EnsureLeaf(servingCert, servingKey, pki.Leaf{CommonName: "system:node:" + testNode, IPs: []net.IP{net.ParseIP("127.0.0.1")}}); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	env := startKubelet(t, func(c *Config) {
		c.NodeIP, c.KubeletPort, c.ClientCA = "127.0.0.1", port, caPEM
		c.ServingCertFile, c.ServingKeyFile = servingCert, servingKey
	})
	env.createPod(t, simplePod("logs"))
	env.waitPod(t, "logs", "Ready", isReady)
	env.rt.Exit(env.rt.Running("logs", "app"), 1, "")
	p := env.waitPod(t, "logs", "restarted", func(p *corev1.Pod) error {
		if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 1 || cs.State.Running == nil {
			return errors.New("not restarted")
		}
		return nil
	})
	dir := filepath.Join(env.cfg.DataDir, "logs", "default_logs_"+string(p.UID), "app")
	for i, line := range []string{"first run", "second run"} {
		content := fmt.Sprintf("2026-01-01T00:00:00.000000000Z stdout F %s\n", line)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.log", i)), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Sign(key.Public(), pki.Leaf{CommonName: kubeletserver.APIServerUser})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}},
	}}}
	get := func(path string) (int, string) {
		var code int
		var body string
		poll(t, 10*time.Second, "GET "+path, func() error {
			resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d%s", port, path))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			code, body = resp.StatusCode, string(b)
			return nil
		})
		return code, body
	}
	if code, body := get("/containerLogs/default/logs/app"); code != 200 || body != "second run\n" {
		t.Errorf("logs: %d %q", code, body)
	}
	if code, body := get("/containerLogs/default/logs/app?previous=true"); code != 200 || body != "first run\n" {
		t.Errorf("previous logs: %d %q", code, body)
	}
	if code, _ := get("/containerLogs/default/nope/app"); code != 404 {
		t.Errorf("unknown pod: %d", code)
	}
	if code, body := get("/containerLogs/default/logs/other"); code != 404 {
		t.Errorf("unknown container: %d %s", code, body)
	}
}
