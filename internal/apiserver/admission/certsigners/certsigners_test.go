package certsigners

import (
	"context"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// signers allows approve and sign only for the named user.
type signers struct{ user string }

func (s signers) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.GetUser().GetName() == s.user && a.GetResource() == "signers" {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func TestValidate(t *testing.T) {
	p, err := New(signers{user: "approver"})
	if err != nil {
		t.Fatal(err)
	}
	csr := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "bob"},
		Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: certificatesv1.KubeAPIServerClientSignerName, Request: []byte("x"),
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}}}
	signed := csr.DeepCopy()
	signed.Status.Certificate = []byte("cert")
	for _, tt := range []struct {
		who, sub string
		obj      *certificatesv1.CertificateSigningRequest
		want     string
	}{
		{"approver", "approval", csr, ""},
		{"carol", "approval", csr, `user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client"`},
		{"approver", "status", signed, ""},
		{"carol", "status", signed, `user not permitted to sign requests with signerName "kubernetes.io/kube-apiserver-client"`},
		{"carol", "", csr, ""},
	} {
		a := admission.NewAttributesRecord(tt.obj, csr, certificatesv1.SchemeGroupVersion.WithKind("CertificateSigningRequest"), "", "bob",
			certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests"), tt.sub, admission.Update, &metav1.UpdateOptions{}, false,
			&user.DefaultInfo{Name: tt.who})
		err := p.Validate(context.Background(), a, nil)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s %s: %v", tt.who, tt.sub, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s %s: %v, want %q", tt.who, tt.sub, err, tt.want)
		}
	}
}
