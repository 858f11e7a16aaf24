package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// csrManifest is a CertificateSigningRequest of the kube-apiserver-client
// signer for user in groups, and the key it is for (PEM).
func csrManifest(t *testing.T, name, user string, groups ...string) (manifest string, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: user, Organization: groups}}, key)
	if err != nil {
		t.Fatal(err)
	}
	if keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key); err != nil {
		t.Fatal(err)
	}
	req := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	return fmt.Sprintf(`apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: %s
spec:
  request: %s
  signerName: kubernetes.io/kube-apiserver-client
  expirationSeconds: 3600
  usages:
  - client auth
`, name, req), keyPEM
}

// authenticatedAs reports whether kubectl with kubeconfig is authenticated
// as user: a resource read either works or is refused naming the user
// (403 once RBAC decides), never 401.
func authenticatedAs(t *testing.T, kubeconfig, user string) {
	t.Helper()
	out, err := exec.Command(kubectlBin, "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name").CombinedOutput()
	switch {
	case err == nil && strings.Contains(string(out), "namespace/default"):
	case err != nil && strings.Contains(string(out), fmt.Sprintf("User %q cannot list resource", user)):
	default:
		t.Errorf("kubectl as %s: %v\n%s", user, err, out)
	}
}

// TestUserCertificates: a user's key and CSR, created with kubectl,
// approved with `kubectl certificate approve`, signed by the cluster's
// kube-apiserver-client signer for the requested hour, give a certificate
// the API server authenticates as that user; a denied CSR gets none; `skiff
// kubeconfig --user` gives a working kubeconfig directly.
func TestUserCertificates(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	dir := t.TempDir()

	manifest, keyPEM := csrManifest(t, "bob", "bob", "developers")
	if r := s.kubectl(manifest, nil, "create", "-f", "-"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "certificatesigningrequest.certificates.k8s.io/bob created" {
		t.Fatalf("create csr: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(s.ok("get", "csr", "bob")), "\n")
	if got := strings.Join(strings.Fields(lines[0]), " "); got != "NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION" {
		t.Errorf("columns %q", lines[0])
	}
	if f := strings.Fields(lines[1]); len(f) != 6 || f[0] != "bob" || f[2] != "kubernetes.io/kube-apiserver-client" || f[3] != "system:admin" || f[4] != "60m" || f[5] != "Pending" {
		t.Errorf("row %q", lines[1])
	}
	if out := s.ok("certificate", "approve", "bob"); strings.TrimSpace(out) != "certificatesigningrequest.certificates.k8s.io/bob approved" {
		t.Errorf("approve printed %q", out)
	}
	var certB64 string
	eventually(t, 30*time.Second, "bob's certificate issued", func() bool {
		certB64 = s.ok("get", "csr", "bob", "-o", "jsonpath={.status.certificate}")
		return certB64 != ""
	})
	if f := strings.Fields(strings.Split(strings.TrimSpace(s.ok("get", "csr", "bob", "--no-headers")), "\n")[0]); f[len(f)-1] != "Approved,Issued" {
		t.Errorf("condition after signing: %v", f)
	}
	certPEM, err := base64.StdEncoding.DecodeString(certB64)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := certutil.ParseCertsPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(certs[0].NotAfter); left > time.Hour || left < 50*time.Minute {
		t.Errorf("bob's certificate valid for %v more, want the requested hour", left)
	}
	admin, err := clientcmd.LoadFromFile(s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	bob := clientcmdapi.NewConfig()
	for name, c := range admin.Clusters {
		bob.Clusters[name] = c
		bob.Contexts["bob"] = &clientcmdapi.Context{Cluster: name, AuthInfo: "bob"}
	}
	bob.AuthInfos["bob"] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	bob.CurrentContext = "bob"
	bobConfig := filepath.Join(dir, "bob.yaml")
	if err := clientcmd.WriteToFile(*bob, bobConfig); err != nil {
		t.Fatal(err)
	}
	authenticatedAs(t, bobConfig, "bob")

	// A denied request is never signed.
	manifest, _ = csrManifest(t, "eve", "eve")
	if r := s.kubectl(manifest, nil, "create", "-f", "-"); r.Code != 0 {
		t.Fatalf("create csr eve: %s", r.Stderr)
	}
	if out := s.ok("certificate", "deny", "eve"); strings.TrimSpace(out) != "certificatesigningrequest.certificates.k8s.io/eve denied" {
		t.Errorf("deny printed %q", out)
	}
	if f := strings.Fields(s.ok("get", "csr", "eve", "--no-headers")); f[len(f)-1] != "Denied" {
		t.Errorf("eve's row %v", f)
	}
	if s.ok("get", "csr", "eve", "-o", "jsonpath={.status.certificate}") != "" {
		t.Error("a denied CSR got a certificate")
	}

	// skiff kubeconfig --user on the server's machine.
	out, err := exec.Command(skiffBin, "kubeconfig", "--user", "alice", "--group", "team-a", "--data-dir", s.dataDir).Output()
	if err != nil {
		t.Fatalf("skiff kubeconfig: %v", err)
	}
	aliceConfig := filepath.Join(dir, "alice.yaml")
	if err := os.WriteFile(aliceConfig, out, 0o600); err != nil {
		t.Fatal(err)
	}
	authenticatedAs(t, aliceConfig, "alice")
}
