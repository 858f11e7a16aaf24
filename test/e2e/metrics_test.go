package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/metricstest"
)

// TestMetrics scrapes what the README's Prometheus configuration scrapes:
// the server's /metrics with the admin kubeconfig, and an agent's kubelet
// port /metrics with the admin certificate from the server's data dir,
// directly and through the API server's nodes/proxy. Other certificates
// are refused.
func TestMetrics(t *testing.T) {
	requireRoot(t)
	s := startServer(t)
	c := s.client()

	families, err := metricstest.Parse(s.ok("get", "--raw", "/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	if missing := families.Missing("apiserver_request_total", "apiserver_request_duration_seconds",
		"etcd_request_duration_seconds", "workqueue_adds_total", "scheduler_pending_pods"); len(missing) > 0 {
		t.Errorf("server /metrics lacks %v", missing)
	}
	if code := s.anonymousGet("/metrics"); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Errorf("anonymous GET /metrics: %d, want 401 or 403", code)
	}

	agentDir := t.TempDir()
	port := freePort(t)
	a := runAgent(t, "measured", exec.Command(skiffBin, "agent", "--server", fmt.Sprintf("https://127.0.0.1:%d", s.port), "--token", s.joinToken(),
		"--data-dir", agentDir, "--node-name", "measured", "--runtime", "process", "--kubelet-port", fmt.Sprint(port)), (*agent).kill)
	t.Cleanup(a.stopGracefully)
	eventually(t, 60*time.Second, "node measured Ready", func() bool {
		node, err := c.CoreV1().Nodes().Get(context.Background(), "measured", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status == corev1.ConditionTrue
			}
		}
		return false
	})

	// The kubelet port presents a certificate the cluster CA signed at join.
	servingPEM, err := os.ReadFile(filepath.Join(s.dataDir, "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(servingPEM)
	client := func(certFile, keyFile string) *http.Client {
		cfg := &tls.Config{RootCAs: roots}
		if certFile != "" {
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	}
	// The kubelet port listens on the node's InternalIP.
	node, err := c.CoreV1().Nodes().Get(context.Background(), "measured", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var nodeIP string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			nodeIP = a.Address
		}
	}
	url := fmt.Sprintf("https://%s/metrics", net.JoinHostPort(nodeIP, fmt.Sprint(port)))
	kubelet := []string{"kubelet_pod_start_duration_seconds", "kubelet_running_pods",
		"kubeproxy_sync_proxy_rules_duration_seconds", "kubeproxy_sync_proxy_rules_last_timestamp_seconds", "go_goroutines"}
	admin := client(filepath.Join(s.dataDir, "tls", "admin.crt"), filepath.Join(s.dataDir, "tls", "admin.key"))
	eventually(t, 30*time.Second, "kubelet and service proxy families on the kubelet port's /metrics", func() bool {
		missing := metricstest.Get(t, admin, url).Missing(kubelet...)
		if len(missing) > 0 {
			t.Logf("kubelet port /metrics lacks %v", missing)
		}
		return len(missing) == 0
	})
	// The same through the API server, as Prometheus' kubernetes_sd node
	// role scrapes it.
	viaProxy, err := metricstest.Parse(s.ok("get", "--raw", "/api/v1/nodes/measured/proxy/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	if missing := viaProxy.Missing(kubelet...); len(missing) > 0 {
		t.Errorf("nodes/measured/proxy/metrics lacks %v", missing)
	}

	for _, tt := range []struct {
		name      string
		cert, key string
		code      int
	}{
		{"no certificate", "", "", http.StatusUnauthorized},
		{"the node's own certificate", filepath.Join(agentDir, "tls", "node.crt"), filepath.Join(agentDir, "tls", "node.key"), http.StatusForbidden},
	} {
		resp, err := client(tt.cert, tt.key).Get(url)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s: GET %s: %d, want %d", tt.name, url, resp.StatusCode, tt.code)
		}
	}
}
