// Package certsigners is kube-apiserver's CertificateApproval and
// CertificateSigning admission: approving a CertificateSigningRequest
// (certificatesigningrequests/approval) needs the approve verb, and writing
// its certificate (certificatesigningrequests/status) the sign verb, on
// the request's signer (resource signers of certificates.k8s.io, named by
// the signerName or its domain with /*), so that the right to update CSRs
// alone does not mint credentials. The decisions are k8s.io/kubernetes'
// own plugins'.
package certsigners

import (
	"context"
	"fmt"

	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/kubernetes/plugin/pkg/admission/certificates/approval"
	"k8s.io/kubernetes/plugin/pkg/admission/certificates/signing"

	"skiff.dev/skiff/internal/apiserver/admission/upstream"
)

// Plugin checks the approve and sign verbs.
type Plugin struct {
	*admission.Handler
	approval *approval.Plugin
	signing  *signing.Plugin
}

var _ admission.ValidationInterface = &Plugin{}

// New returns the plugin asking authz.
func New(authz authorizer.UnconditionalAuthorizer) (*Plugin, error) {
	a, s := approval.NewPlugin(), signing.NewPlugin()
	a.SetUnconditionalAuthorizer(authz)
	s.SetUnconditionalAuthorizer(authz)
	if err := a.ValidateInitialization(); err != nil {
		return nil, fmt.Errorf("%s admission: %w", approval.PluginName, err)
	}
	if err := s.ValidateInitialization(); err != nil {
		return nil, fmt.Errorf("%s admission: %w", signing.PluginName, err)
	}
	return &Plugin{Handler: admission.NewHandler(admission.Update), approval: a, signing: s}, nil
}

// Validate refuses an approval or a certificate the user may not give.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource().Resource != "certificatesigningrequests" {
		return nil
	}
	switch a.GetSubresource() {
	case "approval":
		return upstream.Validate(ctx, p.approval.Validate, a, o)
	case "status":
		return upstream.Validate(ctx, p.signing.Validate, a, o)
	}
	return nil
}
