// Package certificates serves the certificates.k8s.io API group:
// CertificateSigningRequest, with Kubernetes' validation, its status and
// approval subresources (`kubectl certificate approve|deny`), the requestor
// taken from the authenticated user at create, and kubectl's table columns.
// Signers (internal/controller/csrsigning) issue the certificates.
package certificates

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"skiff.dev/skiff/internal/registry/store"
)

// GroupName is the API group this package serves.
const GroupName = certificatesv1.GroupName

// MinExpirationSeconds is the shortest spec.expirationSeconds accepted.
const MinExpirationSeconds = 600

// Kinds returns the kinds this group serves.
func Kinds() []*store.Kind {
	return []*store.Kind{csrKind()}
}

// RegisterDefaults registers the defaulting functions of this group's
// types with the scheme: certificates.k8s.io/v1 has none that skiff needs
// (spec.usages and signerName are required, not defaulted, in v1).
func RegisterDefaults(*runtime.Scheme) {}

func csrKind() *store.Kind {
	return &store.Kind{
		Resource:       schema.GroupResource{Group: GroupName, Resource: "certificatesigningrequests"},
		Kind:           "CertificateSigningRequest",
		ShortNames:     []string{"csr"},
		New:            func() runtime.Object { return &certificatesv1.CertificateSigningRequest{} },
		NewList:        func() runtime.Object { return &certificatesv1.CertificateSigningRequestList{} },
		NameValidation: func(string, bool) []string { return nil }, // Kubernetes takes any name
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return ValidateCreate(obj.(*certificatesv1.CertificateSigningRequest))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return ValidateUpdate(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest), updateMain)
		},
		PrepareForCreate: func(ctx context.Context, obj runtime.Object) {
			csr := obj.(*certificatesv1.CertificateSigningRequest)
			u, _ := genericapirequest.UserFrom(ctx)
			SetRequestor(csr, u)
			csr.Status = certificatesv1.CertificateSigningRequestStatus{}
		},
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			csr, oldCSR := obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest)
			csr.Spec, csr.Status = oldCSR.Spec, oldCSR.Status
		},
		// status and approval are served by Extend, each with its rules.
		NoStatusSubresource: true,
		SelectableFields: func(obj runtime.Object) fields.Set {
			return fields.Set{"spec.signerName": obj.(*certificatesv1.CertificateSigningRequest).Spec.SignerName}
		},
		Columns: []metav1.TableColumnDefinition{
			store.AgeColumn,
			{Name: "SignerName", Type: "string", Description: certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()["signerName"]},
			{Name: "Requestor", Type: "string", Description: certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()["username"]},
			{Name: "RequestedDuration", Type: "string", Description: certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()["expirationSeconds"]},
			{Name: "Condition", Type: "string", Description: certificatesv1.CertificateSigningRequestStatus{}.SwaggerDoc()["conditions"]},
		},
		Row: csrRow,
		Extend: func(s *store.Storage) error {
			if s.Subresources == nil {
				s.Subresources = map[string]rest.Storage{}
			}
			s.Subresources["status"] = newSubresource(s.Store, updateStatus)
			s.Subresources["approval"] = newSubresource(s.Store, updateApproval)
			return nil
		},
	}
}

// SetRequestor records the authenticated user u (nil: none) as the CSR's
// requestor, replacing what the client sent, as Kubernetes does at create.
func SetRequestor(csr *certificatesv1.CertificateSigningRequest, u interface {
	GetName() string
	GetUID() string
	GetGroups() []string
	GetExtra() map[string][]string
}) {
	csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups, csr.Spec.Extra = "", "", nil, nil
	if u == nil {
		return
	}
	csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups = u.GetName(), u.GetUID(), u.GetGroups()
	if extra := u.GetExtra(); len(extra) > 0 {
		csr.Spec.Extra = make(map[string]certificatesv1.ExtraValue, len(extra))
		for k, v := range extra {
			csr.Spec.Extra[k] = v
		}
	}
}

// validUsages are the key usages Kubernetes accepts, sorted as its error
// messages list them.
var validUsages = slices.Sorted(slices.Values([]string{
	string(certificatesv1.UsageAny), string(certificatesv1.UsageCRLSign), string(certificatesv1.UsageCertSign),
	string(certificatesv1.UsageClientAuth), string(certificatesv1.UsageCodeSigning), string(certificatesv1.UsageContentCommitment),
	string(certificatesv1.UsageDataEncipherment), string(certificatesv1.UsageDecipherOnly), string(certificatesv1.UsageDigitalSignature),
	string(certificatesv1.UsageEmailProtection), string(certificatesv1.UsageEncipherOnly), string(certificatesv1.UsageIPsecEndSystem),
	string(certificatesv1.UsageIPsecTunnel), string(certificatesv1.UsageIPsecUser), string(certificatesv1.UsageKeyAgreement),
	string(certificatesv1.UsageKeyEncipherment), string(certificatesv1.UsageMicrosoftSGC), string(certificatesv1.UsageNetscapeSGC),
	string(certificatesv1.UsageOCSPSigning), string(certificatesv1.UsageSMIME), string(certificatesv1.UsageServerAuth),
	string(certificatesv1.UsageSigning), string(certificatesv1.UsageTimestamping),
}))

// legacyUnknownSignerName is refused by the v1 API.
const legacyUnknownSignerName = "kubernetes.io/legacy-unknown"

// ParseRequest reads spec.request: one PEM CERTIFICATE REQUEST block.
func ParseRequest(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != certutil.CertificateRequestBlockType {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}

// ValidateCreate validates a new CSR as Kubernetes does.
func ValidateCreate(csr *certificatesv1.CertificateSigningRequest) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if req, err := ParseRequest(csr.Spec.Request); err != nil {
		errs = append(errs, field.Invalid(spec.Child("request"), csr.Spec.Request, err.Error()))
	} else if err := req.CheckSignature(); err != nil {
		errs = append(errs, field.Invalid(spec.Child("request"), csr.Spec.Request, err.Error()))
	}
	if len(csr.Spec.Usages) == 0 {
		errs = append(errs, field.Required(spec.Child("usages"), ""))
	}
	seen := map[certificatesv1.KeyUsage]bool{}
	for i, u := range csr.Spec.Usages {
		if !slices.Contains(validUsages, string(u)) {
			errs = append(errs, field.NotSupported(spec.Child("usages").Index(i), u, validUsages))
		}
		if seen[u] {
			errs = append(errs, field.Duplicate(spec.Child("usages").Index(i), u))
		}
		seen[u] = true
	}
	if csr.Spec.SignerName == legacyUnknownSignerName {
		errs = append(errs, field.Invalid(spec.Child("signerName"), csr.Spec.SignerName, "the legacy signerName is not allowed via this API version"))
	} else {
		errs = append(errs, validateSignerName(spec.Child("signerName"), csr.Spec.SignerName)...)
	}
	if s := csr.Spec.ExpirationSeconds; s != nil && *s < MinExpirationSeconds {
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), *s, "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	errs = append(errs, validateConditions(field.NewPath("status", "conditions"), csr.Status.Conditions)...)
	if err := validateCertificate(csr.Status.Certificate); err != nil {
		errs = append(errs, field.Invalid(field.NewPath("status", "certificate"), "<certificate data>", err.Error()))
	}
	return errs
}

// validateSignerName accepts "<DNS subdomain>/<path>", the path a DNS
// subdomain too, as Kubernetes.
func validateSignerName(fldPath *field.Path, name string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	domain, path, ok := strings.Cut(name, "/")
	if !ok {
		return field.ErrorList{field.Invalid(fldPath, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")}
	}
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Subdomain(domain) {
		errs = append(errs, field.Invalid(fldPath, name, msg))
	}
	if path == "" {
		errs = append(errs, field.Invalid(fldPath, name, "validating signerName path: path may not be empty"))
	} else if strings.Contains(path, "/") {
		errs = append(errs, field.Invalid(fldPath, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'"))
	}
	return errs
}

// conditionTypesTrueOnly may only be True.
var conditionTypesTrueOnly = []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed}

func validateConditions(fldPath *field.Path, conds []certificatesv1.CertificateSigningRequestCondition) field.ErrorList {
	var errs field.ErrorList
	seen := map[certificatesv1.RequestConditionType]bool{}
	var approved, denied bool
	for i, c := range conds {
		if c.Type == "" {
			errs = append(errs, field.Required(fldPath.Index(i).Child("type"), ""))
		}
		allowed := []string{string(corev1.ConditionFalse), string(corev1.ConditionTrue), string(corev1.ConditionUnknown)}
		if slices.Contains(conditionTypesTrueOnly, c.Type) {
			allowed = []string{string(corev1.ConditionTrue)}
		}
		switch {
		case c.Status == "":
			errs = append(errs, field.Required(fldPath.Index(i).Child("status"), ""))
		case !slices.Contains(allowed, string(c.Status)):
			errs = append(errs, field.NotSupported(fldPath.Index(i).Child("status"), c.Status, allowed))
		}
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
			if denied {
				errs = append(errs, field.Invalid(fldPath, c.Type, "Approved and Denied conditions are mutually exclusive"))
			}
		case certificatesv1.CertificateDenied:
			denied = true
			if approved {
				errs = append(errs, field.Invalid(fldPath, c.Type, "Approved and Denied conditions are mutually exclusive"))
			}
		}
		if seen[c.Type] {
			errs = append(errs, field.Duplicate(fldPath.Index(i).Child("type"), c.Type))
		}
		seen[c.Type] = true
	}
	return errs
}

// validateCertificate accepts nothing or PEM CERTIFICATE blocks only.
func validateCertificate(pemData []byte) error {
	if len(pemData) == 0 {
		return nil
	}
	blocks := 0
	for {
		block, rest := pem.Decode(pemData)
		if block == nil {
			break
		}
		if block.Type != certutil.CertificateBlockType {
			return fmt.Errorf("only CERTIFICATE PEM blocks are allowed, found %q", block.Type)
		}
		if len(block.Headers) != 0 {
			return errors.New("no PEM block headers are permitted")
		}
		if _, err := x509.ParseCertificates(block.Bytes); err != nil {
			return err
		}
		blocks++
		pemData = rest
	}
	if blocks == 0 {
		return errors.New("must contain at least one CERTIFICATE PEM block")
	}
	return nil
}

// updateKind is what an update may change: the main resource (metadata),
// status (the certificate and conditions but Approved/Denied) or approval
// (Approved/Denied conditions).
type updateKind int

const (
	updateMain updateKind = iota
	updateStatus
	updateApproval
)

// ValidateUpdate validates an update of the given kind as Kubernetes does.
func ValidateUpdate(csr, old *certificatesv1.CertificateSigningRequest, kind updateKind) field.ErrorList {
	errs := ValidateCreate(csr)
	conds := field.NewPath("status", "conditions")
	for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed} {
		if len(findConditions(csr, t)) < len(findConditions(old, t)) {
			errs = append(errs, field.Forbidden(conds, fmt.Sprintf("updates may not remove a condition of type %q", t)))
		}
	}
	if kind != updateApproval {
		for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied} {
			newConds, oldConds := findConditions(csr, t), findConditions(old, t)
			switch {
			case len(newConds) < len(oldConds):
			case len(newConds) > len(oldConds):
				errs = append(errs, field.Forbidden(conds, fmt.Sprintf("updates may not add a condition of type %q", t)))
			case !apiequality.Semantic.DeepEqual(oldConds, newConds):
				errs = append(errs, field.Forbidden(conds, fmt.Sprintf("updates may not modify a condition of type %q", t)))
			}
		}
	}
	if !bytes.Equal(csr.Status.Certificate, old.Status.Certificate) {
		switch {
		case kind != updateStatus:
			errs = append(errs, field.Forbidden(field.NewPath("status", "certificate"), "updates may not set certificate content"))
		case len(old.Status.Certificate) > 0:
			errs = append(errs, field.Forbidden(field.NewPath("status", "certificate"), "updates may not modify existing certificate content"))
		}
	}
	return errs
}

func findConditions(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) []certificatesv1.CertificateSigningRequestCondition {
	var out []certificatesv1.CertificateSigningRequestCondition
	for _, c := range csr.Status.Conditions {
		if c.Type == t {
			out = append(out, c)
		}
	}
	return out
}

// prepareUpdate keeps what an update of that kind may not change and stamps
// the conditions' times.
func prepareUpdate(csr, old *certificatesv1.CertificateSigningRequest, kind updateKind, now metav1.Time) {
	stampConditions(csr, old, now)
	csr.Spec = old.Spec
	switch kind {
	case updateStatus:
		// Approved and Denied are the approval subresource's.
		for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied} {
			keepConditions(csr, old, t)
		}
	case updateApproval:
		conds := csr.Status.Conditions
		csr.Status = old.Status
		csr.Status.Conditions = conds
	}
}

// keepConditions puts back the old conditions of type t when there are as
// many.
func keepConditions(csr, old *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) {
	var oldIdx, newIdx []int
	for i, c := range old.Status.Conditions {
		if c.Type == t {
			oldIdx = append(oldIdx, i)
		}
	}
	for i, c := range csr.Status.Conditions {
		if c.Type == t {
			newIdx = append(newIdx, i)
		}
	}
	if len(oldIdx) != len(newIdx) {
		return
	}
	for i, o := range oldIdx {
		csr.Status.Conditions[newIdx[i]] = old.Status.Conditions[o]
	}
}

// stampConditions sets lastUpdateTime and lastTransitionTime where unset,
// keeping the transition time of an unchanged condition.
func stampConditions(csr, old *certificatesv1.CertificateSigningRequest, now metav1.Time) {
	for i := range csr.Status.Conditions {
		c := &csr.Status.Conditions[i]
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = now
		}
		if c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = now
			for _, o := range old.Status.Conditions {
				if o.Type == c.Type && o.Status == c.Status && !o.LastTransitionTime.IsZero() {
					c.LastTransitionTime = o.LastTransitionTime
					break
				}
			}
		}
	}
}

// csrRow renders AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION.
func csrRow(obj runtime.Object) ([]interface{}, error) {
	csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return nil, fmt.Errorf("table row: unexpected type %T", obj)
	}
	signer := csr.Spec.SignerName
	if signer == "" {
		signer = "<none>"
	}
	requested := "<none>"
	if s := csr.Spec.ExpirationSeconds; s != nil {
		requested = duration.HumanDuration(time.Duration(*s) * time.Second)
	}
	return []interface{}{store.Age(csr.CreationTimestamp), signer, csr.Spec.Username, requested, Condition(csr)}, nil
}

// Condition is the CONDITION column: Pending, Approved or Denied, then
// Failed and Issued when they apply ("Approved,Issued").
func Condition(csr *certificatesv1.CertificateSigningRequest) string {
	var approved, denied, failed bool
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	status := "Pending"
	switch {
	case denied:
		status = "Denied"
	case approved:
		status = "Approved"
	}
	if failed {
		status += ",Failed"
	}
	if len(csr.Status.Certificate) > 0 {
		status += ",Issued"
	}
	return status
}

// newSubresource serves status or approval: updates of the CSR with that
// kind's rules over a copy of the main store.
func newSubresource(main *registry.Store, kind updateKind) *store.StatusREST {
	s := *main
	st := &subStrategy{RESTUpdateStrategy: main.UpdateStrategy, kind: kind}
	s.UpdateStrategy = st
	s.ResetFieldsStrategy = st
	return store.NewSubresourceREST(&s)
}

// subStrategy is the update strategy of the status and approval
// subresources.
type subStrategy struct {
	rest.RESTUpdateStrategy
	kind updateKind
}

func (s *subStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	prepareUpdate(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest), s.kind, metav1.Now())
}

func (s *subStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	newCSR, oldCSR := obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest)
	return append(apivalidation.ValidateObjectMetaUpdate(&newCSR.ObjectMeta, &oldCSR.ObjectMeta, field.NewPath("metadata")),
		ValidateUpdate(newCSR, oldCSR, s.kind)...)
}

func (s *subStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// GetResetFields implements rest.ResetFieldsStrategy: status keeps spec and
// the conditions' approval; approval keeps spec and the certificate.
func (s *subStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	set := fieldpath.NewSet(fieldpath.MakePathOrDie("spec"), fieldpath.MakePathOrDie("status", "certificate"))
	if s.kind == updateStatus {
		set = fieldpath.NewSet(fieldpath.MakePathOrDie("spec"), fieldpath.MakePathOrDie("status", "conditions"))
	}
	return map[fieldpath.APIVersion]*fieldpath.Set{"certificates.k8s.io/v1": set}
}
