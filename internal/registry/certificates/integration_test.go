//go:build integration

package certificates_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/testserver"
)

// TestCertificateSigningRequests: the requestor is who created the CSR,
// whatever the client sent; approval goes through the approval
// subresource only, the certificate through status only.
func TestCertificateSigningRequests(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	csrs := s.Client.CertificatesV1().CertificateSigningRequests()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bob"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "bob"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName:        certificatesv1.KubeAPIServerClientSignerName,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
			ExpirationSeconds: ptr.To[int32](3600),
			Username:          "someone-else",
			Groups:            []string{"system:masters-pretend"},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if csr.Spec.Username != "system:admin" || !contains(csr.Spec.Groups, "system:masters") || contains(csr.Spec.Groups, "system:masters-pretend") {
		t.Errorf("requestor %q %v, want the admin who created it", csr.Spec.Username, csr.Spec.Groups)
	}

	// Too short a duration is refused with Kubernetes' message.
	bad := csr.DeepCopy()
	bad.ObjectMeta = metav1.ObjectMeta{Name: "short"}
	bad.Spec.ExpirationSeconds = ptr.To[int32](60)
	_, err = csrs.Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)") {
		t.Errorf("short CSR: %v", err)
	}

	// No kube-apiserver-client certificate for system:masters
	// (CertificateSubjectRestriction admission).
	mastersDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "eve", Organization: []string{"system:masters"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	masters := csr.DeepCopy()
	masters.ObjectMeta = metav1.ObjectMeta{Name: "masters"}
	masters.Spec.Request = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: mastersDER})
	_, err = csrs.Create(ctx, masters, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed") {
		t.Errorf("CSR for system:masters: %v, want 403", err)
	}

	// The main resource and status may not approve.
	approved := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Test", Message: "approved by the test"}
	try := csr.DeepCopy()
	try.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{approved}
	csr, err = csrs.Update(ctx, try, metav1.UpdateOptions{})
	if err != nil || len(csr.Status.Conditions) != 0 {
		t.Fatalf("approval through the main resource: %v, conditions %v", err, csr.Status.Conditions)
	}
	try = csr.DeepCopy()
	try.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{approved}
	if _, err := csrs.UpdateStatus(ctx, try, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), `updates may not add a condition of type "Approved"`) {
		t.Errorf("approval through status: %v", err)
	}
	got, err := csrs.UpdateApproval(ctx, "bob", try, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Conditions) != 1 || got.Status.Conditions[0].LastUpdateTime.IsZero() || got.Status.Conditions[0].LastTransitionTime.IsZero() {
		t.Errorf("approved conditions %+v", got.Status.Conditions)
	}
	// The table kubectl prints.
	table := &metav1.Table{}
	if err := s.Client.CertificatesV1().RESTClient().Get().Resource("certificatesigningrequests").Name("bob").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Do(ctx).Into(table); err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range table.ColumnDefinitions {
		cols = append(cols, c.Name)
	}
	if strings.Join(cols, " ") != "Name Age SignerName Requestor RequestedDuration Condition" || len(table.Rows) != 1 {
		t.Fatalf("table %v", cols)
	}
	if cells := table.Rows[0].Cells; cells[2] != "kubernetes.io/kube-apiserver-client" || cells[3] != "system:admin" || cells[4] != "60m" || cells[5] != "Approved" {
		t.Errorf("row %v", cells)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
