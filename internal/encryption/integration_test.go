//go:build integration

package encryption_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/server/options/encryptionconfig/controller"

	"skiff.dev/skiff/internal/encryption"
	"skiff.dev/skiff/internal/server/api"
	"skiff.dev/skiff/internal/testserver"
)

// Secrets are stored encrypted under the generated aescbc key; a rotation
// with the server running stores every Secret under a new key, and the
// Secrets read back the same.
func TestSecretsEncryptedAndRotated(t *testing.T) {
	// The server looks at the file every minute; the test does not wait so
	// long (as Kubernetes' own integration tests do).
	controller.EncryptionConfigFileChangePollDuration = 200 * time.Millisecond
	s := testserver.Start(t, nil)
	ctx := context.Background()
	value := "plain-" + strings.Repeat("s3cr3t", 4)
	secrets := s.Client.CoreV1().Secrets("default")
	for _, name := range []string{"one", "two"} {
		_, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: map[string]string{"password": value}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	etcdCfg, err := api.EmbeddedEtcd(s.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	client, err := etcdCfg.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	stored := func(name string) []byte {
		t.Helper()
		resp, err := client.Get(ctx, "/registry/secrets/default/"+name)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("etcd get %s: %v", name, err)
		}
		return resp.Kvs[0].Value
	}
	cfgPath := encryption.ConfigPath(s.DataDir)
	cfg, err := encryption.Read(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	_, firstKey, prefix := encryption.Active(cfg.Resources[0])
	if v := stored("one"); !bytes.HasPrefix(v, []byte("k8s:enc:aescbc:v1:"+firstKey+":")) || bytes.Contains(v, []byte(value)) {
		t.Fatalf("stored value %q: want it encrypted under %s", v[:min(len(v), 60)], prefix)
	}
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, %v; want mode 0600", cfgPath, fi, err)
	}

	var out bytes.Buffer
	opts := encryption.Options{
		ConfigPath: cfgPath, Kubeconfig: api.KubeconfigPath(s.DataDir), Etcd: etcdCfg, Out: &out,
		ReloadTimeout: 30 * time.Second, Now: func() time.Time { return time.Now().Add(time.Hour) },
	}
	if err := encryption.Status(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "Encryption Status: Enabled") || !strings.Contains(got, "Active Key: aescbc "+firstKey) {
		t.Errorf("status:\n%s", got)
	}
	out.Reset()
	if err := encryption.Rotate(ctx, opts); err != nil {
		t.Fatalf("rotate: %v\n%s", err, out.String())
	}
	cfg, err = encryption.Read(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	_, newKey, _ := encryption.Active(cfg.Resources[0])
	if newKey == firstKey || len(cfg.Resources[0].Providers[0].AESCBC.Keys) != 1 {
		t.Fatalf("after rotate: keys %v, want one new key", cfg.Resources[0].Providers[0].AESCBC.Keys)
	}
	for _, name := range []string{"one", "two"} {
		if v := stored(name); !bytes.HasPrefix(v, []byte("k8s:enc:aescbc:v1:"+newKey+":")) {
			t.Errorf("%s stored as %q, want under %s", name, v[:min(len(v), 60)], newKey)
		}
		got, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err != nil || string(got.Data["password"]) != value {
			t.Errorf("%s reads back %q, %v", name, got.Data["password"], err)
		}
	}
	// The etcd data files hold the value nowhere in clear.
	err = filepath.WalkDir(api.EtcdDataDir(s.DataDir), func(path string, d os.DirEntry, err error) error {
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
