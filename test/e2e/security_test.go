package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff.dev/skiff/internal/server/api"
	"skiff.dev/skiff/internal/storage/etcd"
)

// skiff runs the skiff binary (not the server) and returns its output.
func (s *server) skiff(args ...string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, skiffBin, args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("skiff %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// etcdValue reads a key as the server stored it in its embedded etcd.
func (s *server) etcdValue(key string) []byte {
	s.t.Helper()
	cfg, err := api.EmbeddedEtcd(s.dataDir)
	if err != nil {
		s.t.Fatal(err)
	}
	client, err := cfg.New(nil)
	if err != nil {
		s.t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.Get(ctx, key)
	if err != nil {
		s.t.Fatalf("etcd get %s: %v", key, err)
	}
	if len(resp.Kvs) != 1 {
		s.t.Fatalf("etcd get %s: %d values", key, len(resp.Kvs))
	}
	return resp.Kvs[0].Value
}

// etcdGet reads key with a client of cfg.
func etcdGet(cfg etcd.ClientConfig, key string) error {
	client, err := cfg.New(nil)
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = client.Get(ctx, key)
	return err
}

// TestSecretsEncryptedAtRest: the embedded etcd serves mutual TLS only; a Secret's value is in neither the etcd data
// files nor the raw etcd value, which is encrypted under the generated
// aescbc key; `skiff secrets-encrypt rotate` stores every Secret under a new
// key with the server running; the Secrets read back the same through
// kubectl, and after a restart.
func TestSecretsEncryptedAtRest(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const value = "e2e-at-rest-4f1d2b9c"
	s.ok("create", "secret", "generic", "db", "--from-literal=password="+value)
	s.ok("create", "namespace", "team-a")
	s.ok("create", "secret", "generic", "api", "-n", "team-a", "--from-literal=token="+value)

	status := s.skiff("secrets-encrypt", "status", "--data-dir", s.dataDir)
	if !strings.Contains(status, "Encryption Status: Enabled") || !strings.Contains(status, "Active Key: aescbc aescbckey-") {
		t.Fatalf("secrets-encrypt status:\n%s", status)
	}
	firstKey := activeKey(t, status)
	for _, key := range []string{"/registry/secrets/default/db", "/registry/secrets/team-a/api"} {
		v := s.etcdValue(key)
		if !bytes.HasPrefix(v, []byte("k8s:enc:aescbc:v1:"+firstKey+":")) || bytes.Contains(v, []byte(value)) {
			t.Fatalf("%s stored as %q, want it encrypted under %s", key, v[:min(len(v), 60)], firstKey)
		}
	}
	assertNotInFiles(t, filepath.Join(s.dataDir, "etcd"), value)
	// The embedded etcd answers the API server's client certificate only:
	// not a client without one, nor the admin's certificate.
	etcdCfg, err := api.EmbeddedEtcd(s.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(etcdCfg.Endpoints[0], "https://") {
		t.Errorf("embedded etcd at %s, want https", etcdCfg.Endpoints[0])
	}
	noCert := etcd.ClientConfig{Endpoints: etcdCfg.Endpoints, CAFile: etcdCfg.CAFile}
	admin := noCert
	admin.CertFile, admin.KeyFile = filepath.Join(s.dataDir, "tls", "admin.crt"), filepath.Join(s.dataDir, "tls", "admin.key")
	for name, cfg := range map[string]etcd.ClientConfig{"no certificate": noCert, "the admin's certificate": admin} {
		if err := etcdGet(cfg, "/registry/secrets/default/db"); err == nil {
			t.Errorf("embedded etcd answered a client with %s", name)
		}
	}
	for _, f := range []string{"encryption-config.yaml", "token", "kubeconfig.yaml", "tls/ca.key", "tls/admin.key"} {
		if fi, err := os.Stat(filepath.Join(s.dataDir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, fi.Mode().Perm(), err)
		}
	}
	if fi, err := os.Stat(s.dataDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v %v, want mode 0700", fi.Mode().Perm(), err)
	}

	out := s.skiff("secrets-encrypt", "rotate", "--data-dir", s.dataDir)
	status = s.skiff("secrets-encrypt", "status", "--data-dir", s.dataDir)
	newKey := activeKey(t, status)
	if newKey == firstKey {
		t.Fatalf("rotate kept key %s:\n%s\n%s", firstKey, out, status)
	}
	check := func() {
		t.Helper()
		for _, key := range []string{"/registry/secrets/default/db", "/registry/secrets/team-a/api"} {
			if v := s.etcdValue(key); !bytes.HasPrefix(v, []byte("k8s:enc:aescbc:v1:"+newKey+":")) {
				t.Errorf("%s stored as %q, want under the new key %s", key, v[:min(len(v), 60)], newKey)
			}
		}
		if got := s.ok("get", "secret", "db", "-o", "jsonpath={.data.password}"); got != b64(value) {
			t.Errorf("secret db reads %q, want %q", got, b64(value))
		}
		if got := s.ok("get", "secret", "api", "-n", "team-a", "-o", "jsonpath={.data.token}"); got != b64(value) {
			t.Errorf("secret team-a/api reads %q, want %q", got, b64(value))
		}
	}
	check()
	if strings.Contains(readFile(t, filepath.Join(s.dataDir, "encryption-config.yaml")), firstKey) {
		t.Errorf("the old key %s is still in the configuration after rotate:\n%s", firstKey, out)
	}
	s.restart()
	check()
	assertNotInFiles(t, filepath.Join(s.dataDir, "etcd"), value)
}

// activeKey is the key name `skiff secrets-encrypt status` shows.
func activeKey(t *testing.T, status string) string {
	t.Helper()
	for line := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(line, "Active Key: aescbc "); ok {
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("no active aescbc key in:\n%s", status)
	return ""
}

func assertNotInFiles(t *testing.T, dir, value string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(value)) {
			t.Errorf("%s holds the Secret's value in clear", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestJoinWithCreatedToken: a token from `skiff token create` joins an
// agent (skiff agent --token); `skiff token list` shows it; once deleted
// with `skiff token delete`, an agent can no longer join with it.
func TestJoinWithCreatedToken(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	token := strings.TrimSpace(s.skiff("token", "create", "--data-dir", s.dataDir, "--ttl", "10m", "--description", "e2e"))
	if list := s.skiff("token", "list", "--data-dir", s.dataDir); !strings.Contains(list, token) || !strings.Contains(list, "e2e") {
		t.Fatalf("skiff token list does not show %s:\n%s", token, list)
	}
	join := func(name string) *exec.Cmd {
		return exec.Command(skiffBin, "agent", "--server", fmt.Sprintf("https://127.0.0.1:%d", s.port), "--token", token,
			"--data-dir", t.TempDir(), "--node-name", name, "--runtime", "fake")
	}
	runAgent(t, "joined", join("joined"), (*agent).kill)
	eventually(t, 60*time.Second, "node joined registered", func() bool {
		return s.kubectl("", nil, "get", "node", "joined").Code == 0
	})

	if out := s.skiff("token", "delete", "--data-dir", s.dataDir, token); !strings.Contains(out, "deleted") {
		t.Errorf("skiff token delete printed %q", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	refused := join("refused")
	refused = exec.CommandContext(ctx, refused.Path, refused.Args[1:]...)
	out, err := refused.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refused the join token") {
		t.Errorf("agent with a deleted token: %v\n%s", err, tail(string(out), 2000))
	}
}
