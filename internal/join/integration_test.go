//go:build integration

package join_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"

	"skiff.dev/skiff/internal/join"
	"skiff.dev/skiff/internal/testserver"
)

// An agent joins with the server's token and gets credentials of its own;
// a wrong secret or a token naming another CA gets nothing.
func TestJoin(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	b, err := os.ReadFile(join.TokenPath(s.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	good, _ := join.ParseToken(token)

	t.Run("wrong secret", func(t *testing.T) {
		bad := join.Token{CAHash: good.CAHash, Secret: "not-the-secret"}
		_, err := join.Credentials(ctx, s.Config.Host, bad.String(), "node-a", t.TempDir(), nil)
		if !errors.Is(err, join.ErrTokenRefused) {
			t.Fatalf("got %v, want ErrTokenRefused", err)
		}
	})
	t.Run("other CA", func(t *testing.T) {
		bad := join.Token{CAHash: strings.Repeat("0", 64), Secret: good.Secret}
		_, err := join.Credentials(ctx, s.Config.Host, bad.String(), "node-a", t.TempDir(), nil)
		if err == nil || !strings.Contains(err.Error(), "does not hold the CA") {
			t.Fatalf("got %v, want a CA pinning error", err)
		}
	})
	t.Run("token reaches nothing else", func(t *testing.T) {
		cfg := *s.Config
		cfg.TLSClientConfig.CertFile, cfg.TLSClientConfig.KeyFile = "", ""
		cfg.TLSClientConfig.CertData, cfg.TLSClientConfig.KeyData = nil, nil
		cfg.BearerToken = good.Secret
		c, err := kubernetes.NewForConfig(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); err == nil || !strings.Contains(err.Error(), "forbidden") {
			t.Fatalf("listing secrets with the join token: %v, want forbidden", err)
		}
	})
	t.Run("joins", func(t *testing.T) {
		dir := t.TempDir()
		hosts := []string{"192.0.2.7", "node-a"}
		kubeconfig, err := join.Credentials(ctx, s.Config.Host, token, "node-a", dir, hosts)
		if err != nil {
			t.Fatal(err)
		}
		// The kubelet's serving certificate: the cluster CA's, for the
		// node's addresses, for serving only.
		certFile, keyFile := join.ServingCertPaths(dir)
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			t.Fatal(err)
		}
		serving, err := certutil.CertsFromFile(certFile)
		if err != nil {
			t.Fatal(err)
		}
		cas, err := certutil.CertsFromFile(filepath.Join(s.DataDir, "tls", "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(cas[0])
		for _, h := range hosts {
			if _, err := serving[0].Verify(x509.VerifyOptions{DNSName: h, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				t.Errorf("serving certificate for %s: %v", h, err)
			}
		}
		if _, err := serving[0].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
			t.Error("the serving certificate is a client certificate as well")
		}
		if cn := serving[0].Subject.CommonName; cn != "system:node:node-a" {
			t.Errorf("serving certificate CN %q", cn)
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
			t.Fatalf("node credentials: %v", err)
		}
		// A second call reuses what the first obtained.
		if again, err := join.Credentials(ctx, s.Config.Host, "not even a token", "node-a", dir, hosts); err != nil || again != kubeconfig {
			t.Fatalf("second join: %q, %v", again, err)
		}
		// A new address: joins again for a serving certificate naming it.
		if _, err := join.Credentials(ctx, s.Config.Host, "not even a token", "node-a", dir, []string{"192.0.2.8"}); err == nil {
			t.Fatal("a moved node kept a serving certificate for its old address")
		}
		if _, err := join.Credentials(ctx, s.Config.Host, token, "node-a", dir, []string{"192.0.2.8"}); err != nil {
			t.Fatal(err)
		}
		if serving, err = certutil.CertsFromFile(certFile); err != nil || serving[0].VerifyHostname("192.0.2.8") != nil {
			t.Errorf("serving certificate after the move: %v", err)
		}
	})
}

// A token made by skiff token create lets an agent join; once deleted, or
// when expired, it does not.
func TestJoinWithBootstrapTokens(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	hash, err := join.CAHash(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	created, err := join.CreateToken(ctx, s.Client, hash, join.TokenRequest{TTL: time.Hour, Description: "test"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	expired, err := join.CreateToken(ctx, s.Client, hash, join.TokenRequest{TTL: time.Minute}, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := join.CreateToken(ctx, s.Client, hash, join.TokenRequest{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := join.DeleteToken(ctx, s.Client, deleted.String()); err != nil {
		t.Fatal(err)
	}
	var list bytes.Buffer
	if err := join.ListTokens(ctx, s.Client, hash, time.Now(), &list); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list.String(), created.String()) || !strings.Contains(list.String(), "<invalid>") || strings.Contains(list.String(), deleted.String()) {
		t.Errorf("token list:\n%s", list.String())
	}

	if _, err := join.Credentials(ctx, s.Config.Host, created.String(), "node-b", t.TempDir(), nil); err != nil {
		t.Errorf("join with a created token: %v", err)
	}
	for name, tok := range map[string]join.Token{"expired": expired, "deleted": deleted} {
		if _, err := join.Credentials(ctx, s.Config.Host, tok.String(), "node-c", t.TempDir(), nil); !errors.Is(err, join.ErrTokenRefused) {
			t.Errorf("join with an %s token: %v, want ErrTokenRefused", name, err)
		}
	}
}
