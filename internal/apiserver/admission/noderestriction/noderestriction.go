// Package noderestriction is Kubernetes' NodeRestriction admission: a node
// (user system:node:NAME in group system:nodes) may modify only its own Node
// object and Lease, not the labels reserved to administrators
// (node-restriction.kubernetes.io/ and the kubernetes.io / k8s.io labels
// that are not the kubelet's), only the status of pods bound to it, and may
// request service-account tokens only for its pods.
//
// The decisions are k8s.io/kubernetes' own plugin's: it works on
// Kubernetes' internal types, so a node's request is converted to them
// before the plugin sees it (other users' requests are not touched).
//
// As in kube-apiserver the plugin runs in the mutating phase (it changes
// nothing): it sees a TokenRequest as the node sent it, before the
// TokenRequest API fills in the API server's audiences, so a node asking
// for its pod's default token (no audience) is told apart from one asking
// for an audience its pod does not name.
package noderestriction

import (
	"context"

	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	"k8s.io/kubernetes/pkg/auth/nodeidentifier"
	upstream "k8s.io/kubernetes/plugin/pkg/admission/noderestriction"

	upstreamadmission "skiff.dev/skiff/internal/apiserver/admission/upstream"
)

// Plugin restricts what nodes may write.
type Plugin struct {
	*admission.Handler
	identifier nodeidentifier.NodeIdentifier
	upstream   *upstream.Plugin
}

var _ admission.MutationInterface = &Plugin{}

// New returns the plugin reading pods, nodes and service accounts from
// factory's listers; authz authorizes what the plugin asks (pod
// certificate requests).
func New(factory informers.SharedInformerFactory, authz authorizer.UnconditionalAuthorizer) (*Plugin, error) {
	identifier := nodeidentifier.NewDefaultNodeIdentifier()
	p := upstream.NewPlugin(identifier)
	// Kubernetes' gates, ServiceAccountNodeAudienceRestriction on: a node
	// asks for a token of an audience other than the API server's only for
	// a pod that names it (a projected token or a CSI driver's audience).
	p.InspectFeatureGates(utilfeature.DefaultFeatureGate)
	p.SetExternalKubeInformerFactory(factory)
	p.SetUnconditionalAuthorizer(authz)
	if err := p.ValidateInitialization(); err != nil {
		return nil, err
	}
	return &Plugin{
		Handler:    admission.NewHandler(admission.Create, admission.Update, admission.Delete),
		identifier: identifier, upstream: p,
	}, nil
}

// Admit refuses a node's request the node may not make.
func (p *Plugin) Admit(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error {
	if _, isNode := p.identifier.NodeIdentity(a.GetUserInfo()); !isNode {
		return nil
	}
	return upstreamadmission.Validate(ctx, p.upstream.Admit, a, o)
}
