package server

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"

	"skiff.dev/skiff/internal/pki"
)

func TestWriteUserKubeconfig(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	adminCert, adminKey := filepath.Join(dir, "tls", "admin.crt"), filepath.Join(dir, "tls", "admin.key")
	if err := ca.EnsureLeaf(adminCert, adminKey, pki.Leaf{CommonName: "system:admin", Organization: []string{"system:masters"}}); err != nil {
		t.Fatal(err)
	}
	if err := (pki.Kubeconfig{Server: "https://10.0.0.1:6443", CAFile: ca.CertFile, CertFile: adminCert, KeyFile: adminKey, Name: "skiff"}).Write(KubeconfigPath(dir)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteUserKubeconfig(UserKubeconfig{DataDir: dir, User: "alice", Groups: []string{"team-a", "devs"}, Validity: 48 * time.Hour, Out: &out}); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(out.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if cfg.CurrentContext != "alice@skiff" || ctx == nil || cfg.Clusters[ctx.Cluster].Server != "https://10.0.0.1:6443" {
		t.Fatalf("kubeconfig %s", out.String())
	}
	certs, err := certutil.ParseCertsPEM(cfg.AuthInfos[ctx.AuthInfo].ClientCertificateData)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("not a client certificate of the cluster CA: %v", err)
	}
	if certs[0].Subject.CommonName != "alice" || !slices.Equal(slices.Sorted(slices.Values(certs[0].Subject.Organization)), []string{"devs", "team-a"}) {
		t.Errorf("subject %v", certs[0].Subject)
	}
	if left := time.Until(certs[0].NotAfter); left > 48*time.Hour || left < 47*time.Hour {
		t.Errorf("valid for %v more, want 48h", left)
	}

	if err := WriteUserKubeconfig(UserKubeconfig{DataDir: t.TempDir(), User: "bob", Out: &out}); err == nil {
		t.Error("a data dir without a CA gave a kubeconfig")
	}
	if _, err := os.Stat(filepath.Join(dir, "tls", "bob.crt")); err == nil {
		t.Error("files were left in the data dir")
	}
}
