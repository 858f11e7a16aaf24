//go:build integration

package join_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

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
		_, err := join.Credentials(ctx, s.Config.Host, bad.String(), "node-a", t.TempDir())
		if !errors.Is(err, join.ErrTokenRefused) {
			t.Fatalf("got %v, want ErrTokenRefused", err)
		}
	})
	t.Run("other CA", func(t *testing.T) {
		bad := join.Token{CAHash: strings.Repeat("0", 64), Secret: good.Secret}
		_, err := join.Credentials(ctx, s.Config.Host, bad.String(), "node-a", t.TempDir())
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
		kubeconfig, err := join.Credentials(ctx, s.Config.Host, token, "node-a", dir)
		if err != nil {
			t.Fatal(err)
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
		if again, err := join.Credentials(ctx, s.Config.Host, "not even a token", "node-a", dir); err != nil || again != kubeconfig {
			t.Fatalf("second join: %q, %v", again, err)
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

	if _, err := join.Credentials(ctx, s.Config.Host, created.String(), "node-b", t.TempDir()); err != nil {
		t.Errorf("join with a created token: %v", err)
	}
	for name, tok := range map[string]join.Token{"expired": expired, "deleted": deleted} {
		if _, err := join.Credentials(ctx, s.Config.Host, tok.String(), "node-c", t.TempDir()); !errors.Is(err, join.ErrTokenRefused) {
			t.Errorf("join with an %s token: %v, want ErrTokenRefused", name, err)
		}
	}
}
