package csrsigning

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/pki"
)

func csrFor(t *testing.T, name string, usages []certificatesv1.KeyUsage, expiration *int32, conds ...certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name, Organization: []string{"developers"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName:        certificatesv1.KubeAPIServerClientSignerName,
			Usages:            usages,
			ExpirationSeconds: expiration,
		},
	}
	for _, c := range conds {
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: c, Status: corev1.ConditionTrue})
	}
	return csr
}

func TestDecide(t *testing.T) {
	client := []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}
	other := csrFor(t, "kubelet", client, nil, certificatesv1.CertificateApproved)
	other.Spec.SignerName = certificatesv1.KubeletServingSignerName
	issued := csrFor(t, "issued", client, nil, certificatesv1.CertificateApproved)
	issued.Status.Certificate = []byte("x")
	tests := []struct {
		name string
		csr  *certificatesv1.CertificateSigningRequest
		want action
	}{
		{"pending", csrFor(t, "bob", client, nil), actionNone},
		{"approved", csrFor(t, "bob", client, nil, certificatesv1.CertificateApproved), actionSign},
		{"denied", csrFor(t, "bob", client, nil, certificatesv1.CertificateDenied), actionNone},
		{"approved then failed", csrFor(t, "bob", client, nil, certificatesv1.CertificateApproved, certificatesv1.CertificateFailed), actionNone},
		{"another signer's", other, actionNone},
		{"already issued", issued, actionNone},
	}
	for _, tt := range tests {
		if got := Decide(tt.csr); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	year := DefaultSigningDuration
	tests := []struct {
		expiration *int32
		want       time.Duration
	}{
		{nil, year},
		{ptr.To[int32](3600), time.Hour},
		{ptr.To[int32](600), 10 * time.Minute},
		{ptr.To[int32](60), 10 * time.Minute}, // refused by validation; the signer's floor still holds
		{ptr.To[int32](2 * 365 * 86400), year},
	}
	for _, tt := range tests {
		if got := Duration(tt.expiration, year); got != tt.want {
			t.Errorf("Duration(%v) = %v, want %v", ptr.Deref(tt.expiration, -1), got, tt.want)
		}
	}
}

// TestSign: an approved request is signed by the CA for the requested
// duration with the request's subject as user and groups; one with
// server usages fails with the signer's reason.
func TestSign(t *testing.T) {
	ca, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset(
		csrFor(t, "bob", []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}, ptr.To[int32](3600), certificatesv1.CertificateApproved),
		csrFor(t, "web", []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth}, nil, certificatesv1.CertificateApproved),
		csrFor(t, "pending", []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}, nil),
	)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, ca, Options{Options: queue.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	for _, name := range []string{"bob", "web", "pending"} {
		if err := c.sync(ctx, name); err != nil {
			t.Fatalf("sync %s: %v", name, err)
		}
	}
	get := func(name string) *certificatesv1.CertificateSigningRequest {
		csr, err := client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return csr
	}

	bob := get("bob")
	certs, err := certutil.ParseCertsPEM(bob.Status.Certificate)
	if err != nil {
		t.Fatalf("bob's certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("bob's certificate does not verify as a client certificate of the CA: %v", err)
	}
	if certs[0].Subject.CommonName != "bob" || !slices.Equal(certs[0].Subject.Organization, []string{"developers"}) {
		t.Errorf("subject %v", certs[0].Subject)
	}
	if left := time.Until(certs[0].NotAfter); left > time.Hour || left < 59*time.Minute {
		t.Errorf("valid for %v more, want the requested hour", left)
	}

	web := get("web")
	if len(web.Status.Certificate) != 0 || len(web.Status.Conditions) != 2 {
		t.Fatalf("web status %+v", web.Status)
	}
	if f := web.Status.Conditions[1]; f.Type != certificatesv1.CertificateFailed || f.Reason != "SignerValidationFailure" ||
		f.Message != "invalid usage for client certificate: server auth" {
		t.Errorf("web failure %+v", f)
	}
	if p := get("pending"); len(p.Status.Certificate) != 0 || len(p.Status.Conditions) != 0 {
		t.Errorf("a pending request was touched: %+v", p.Status)
	}
}
