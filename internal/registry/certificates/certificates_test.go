package certificates

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/utils/ptr"
)

func request(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bob"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func validCSR(t *testing.T) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "bob"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    request(t),
			SignerName: certificatesv1.KubeAPIServerClientSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
		},
	}
}

func TestValidateCreate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*certificatesv1.CertificateSigningRequest)
		want   []string // one substring per error, in order
	}{
		{"valid", func(*certificatesv1.CertificateSigningRequest) {}, nil},
		{"valid with 10 minutes", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.ExpirationSeconds = ptr.To[int32](600) }, nil},
		{"no request", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Request = nil },
			[]string{"spec.request: Invalid value:", "PEM block type must be CERTIFICATE REQUEST"}},
		{"a certificate instead", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Request = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})
		}, []string{"spec.request: Invalid value:", "PEM block type must be CERTIFICATE REQUEST"}},
		{"no usages", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Usages = nil },
			[]string{"spec.usages: Required value"}},
		{"unknown usage", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Usages = append(c.Spec.Usages, "flying") },
			[]string{`spec.usages[1]: Unsupported value: "flying": supported values: "any", "cert sign", "client auth", "code signing", "content commitment", "crl sign"`}},
		{"duplicate usage", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = append(c.Spec.Usages, "client auth")
		},
			[]string{`spec.usages[1]: Duplicate value: "client auth"`}},
		{"no signer", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "" },
			[]string{"spec.signerName: Required value"}},
		{"legacy signer", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "kubernetes.io/legacy-unknown" },
			[]string{`spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not allowed via this API version`}},
		{"signer without path", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example.com" },
			[]string{`spec.signerName: Invalid value: "example.com": must be a fully qualified domain and path of the form 'example.com/signer-name'`}},
		{"too short", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.ExpirationSeconds = ptr.To[int32](599) },
			[]string{"spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)"}},
		{"approved false", func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionFalse}}
		}, []string{`status.conditions[0].status: Unsupported value: "False": supported values: "True"`}},
		{"approved and denied", func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{
				{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}, {Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue}}
		}, []string{`status.conditions: Invalid value: "Denied": Approved and Denied conditions are mutually exclusive`}},
		{"not a certificate", func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = []byte("junk") },
			[]string{`status.certificate: Invalid value: "<certificate data>": must contain at least one CERTIFICATE PEM block`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := validCSR(t)
			tt.mutate(csr)
			errs := ValidateCreate(csr)
			if len(tt.want) == 0 {
				if len(errs) > 0 {
					t.Fatalf("errors %v", errs)
				}
				return
			}
			got := errs.ToAggregate().Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("errors %q, want %q", got, w)
				}
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	approved := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "KubectlApprove"}
	denied := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue}
	failed := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t)})
	tests := []struct {
		name      string
		kind      updateKind
		old, new  certificatesv1.CertificateSigningRequestStatus
		wantError string
	}{
		{"approval approves", updateApproval, certificatesv1.CertificateSigningRequestStatus{},
			certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{approved}}, ""},
		{"status may not approve", updateStatus, certificatesv1.CertificateSigningRequestStatus{},
			certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{approved}}, `updates may not add a condition of type "Approved"`},
		{"main may not approve", updateMain, certificatesv1.CertificateSigningRequestStatus{},
			certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{approved}}, `updates may not add a condition of type "Approved"`},
		{"approval may not remove", updateApproval, certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{approved}},
			certificatesv1.CertificateSigningRequestStatus{}, `updates may not remove a condition of type "Approved"`},
		{"approved may not be denied too", updateApproval, certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{approved}},
			certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{approved, denied}}, "mutually exclusive"},
		{"status issues", updateStatus, certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{approved}},
			certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{approved}, Certificate: cert}, ""},
		{"status fails", updateStatus, certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{approved}},
			certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{approved, failed}}, ""},
		{"approval may not issue", updateApproval, certificatesv1.CertificateSigningRequestStatus{},
			certificatesv1.CertificateSigningRequestStatus{Certificate: cert}, "updates may not set certificate content"},
		{"status may not reissue", updateStatus, certificatesv1.CertificateSigningRequestStatus{Certificate: cert},
			certificatesv1.CertificateSigningRequestStatus{Certificate: append(append([]byte{}, cert...), cert...)}, "updates may not modify existing certificate content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, csr := validCSR(t), validCSR(t)
			csr.Spec = old.Spec
			old.Status, csr.Status = tt.old, tt.new
			got := ValidateUpdate(csr, old, tt.kind).ToAggregate()
			switch {
			case tt.wantError == "" && got != nil:
				t.Errorf("errors %v", got)
			case tt.wantError != "" && (got == nil || !strings.Contains(got.Error(), tt.wantError)):
				t.Errorf("errors %v, want %q", got, tt.wantError)
			}
		})
	}
}

func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestPrepareUpdate: each subresource keeps what it may not change.
func TestPrepareUpdate(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	earlier := metav1.NewTime(now.Add(-time.Hour))
	approved := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AutoApproved", LastUpdateTime: earlier, LastTransitionTime: earlier}
	old := validCSR(t)
	old.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{approved}

	// status: the approval stays as it was, a new Failed gets stamped, the
	// certificate is taken.
	csr := old.DeepCopy()
	csr.Spec.Username = "mallory"
	csr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Changed"},
		{Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue}}
	csr.Status.Certificate = []byte("cert")
	prepareUpdate(csr, old, updateStatus, now)
	if csr.Spec.Username != "" || csr.Status.Conditions[0].Reason != "AutoApproved" || csr.Status.Conditions[1].LastUpdateTime != now ||
		csr.Status.Conditions[1].LastTransitionTime != now || string(csr.Status.Certificate) != "cert" {
		t.Errorf("status update prepared as %+v", csr)
	}

	// approval: the conditions are taken, the certificate is not.
	csr = old.DeepCopy()
	csr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Again"}}
	csr.Status.Certificate = []byte("cert")
	prepareUpdate(csr, old, updateApproval, now)
	if c := csr.Status.Conditions[0]; c.Reason != "Again" || c.LastTransitionTime != earlier || c.LastUpdateTime != now || csr.Status.Certificate != nil {
		t.Errorf("approval prepared as %+v", csr.Status)
	}
}

func TestSetRequestor(t *testing.T) {
	csr := validCSR(t)
	csr.Spec.Username, csr.Spec.Groups = "admin", []string{"system:masters"}
	SetRequestor(csr, &user.DefaultInfo{Name: "bob", UID: "u-1", Groups: []string{"dev", "system:authenticated"}, Extra: map[string][]string{"scope": {"a"}}})
	if s := csr.Spec; s.Username != "bob" || s.UID != "u-1" || strings.Join(s.Groups, ",") != "dev,system:authenticated" || s.Extra["scope"][0] != "a" {
		t.Errorf("requestor %+v", s)
	}
	SetRequestor(csr, nil)
	if s := csr.Spec; s.Username != "" || s.Groups != nil || s.Extra != nil {
		t.Errorf("requestor without a user %+v", s)
	}
}

func TestRow(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*certificatesv1.CertificateSigningRequest)
		want   []interface{}
	}{
		{"pending", func(*certificatesv1.CertificateSigningRequest) {}, []interface{}{"kubernetes.io/kube-apiserver-client", "bob", "<none>", "Pending"}},
		{"approved and issued for a day", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.ExpirationSeconds = ptr.To[int32](86400)
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}
			c.Status.Certificate = []byte("x")
		}, []interface{}{"kubernetes.io/kube-apiserver-client", "bob", "24h", "Approved,Issued"}},
		{"denied", func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue}}
		}, []interface{}{"kubernetes.io/kube-apiserver-client", "bob", "<none>", "Denied"}},
		{"approved and failed", func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}, {Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue}}
		}, []interface{}{"kubernetes.io/kube-apiserver-client", "bob", "<none>", "Approved,Failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := validCSR(t)
			csr.Spec.Username = "bob"
			csr.CreationTimestamp = metav1.Now()
			tt.mutate(csr)
			row, err := csrRow(csr)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tt.want {
				if row[i+1] != w {
					t.Errorf("cell %d = %v, want %v (row %v)", i+1, row[i+1], w, row)
				}
			}
		})
	}
}
