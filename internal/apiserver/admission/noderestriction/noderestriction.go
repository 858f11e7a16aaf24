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
package noderestriction

import (
	"context"
	"fmt"

	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	"k8s.io/kubernetes/pkg/auth/nodeidentifier"
	"k8s.io/kubernetes/pkg/features"
	upstream "k8s.io/kubernetes/plugin/pkg/admission/noderestriction"

	upstreamadmission "skiff.dev/skiff/internal/apiserver/admission/upstream"
)

// Plugin restricts what nodes may write.
type Plugin struct {
	*admission.Handler
	identifier nodeidentifier.NodeIdentifier
	upstream   *upstream.Plugin
}

var _ admission.ValidationInterface = &Plugin{}

// New returns the plugin reading pods, nodes and service accounts from
// factory's listers; authz authorizes what the plugin asks (pod
// certificate requests).
func New(factory informers.SharedInformerFactory, authz authorizer.UnconditionalAuthorizer) (*Plugin, error) {
	identifier := nodeidentifier.NewDefaultNodeIdentifier()
	p := upstream.NewPlugin(identifier)
	gates := utilfeature.DefaultFeatureGate.DeepCopy()
	// The audience restriction reads CSIDrivers, PersistentVolumes and
	// claims, which skiff does not serve; without them no CSI driver can
	// claim an audience, and nodes may ask for tokens of their pods' own
	// service accounts as before the feature.
	if err := gates.SetFromMap(map[string]bool{string(features.ServiceAccountNodeAudienceRestriction): false}); err != nil {
		return nil, fmt.Errorf("%s feature gates: %w", upstream.PluginName, err)
	}
	p.InspectFeatureGates(gates)
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

// Validate refuses a node's request the node may not make.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error {
	if _, isNode := p.identifier.NodeIdentity(a.GetUserInfo()); !isNode {
		return nil
	}
	return upstreamadmission.Validate(ctx, p.upstream.Admit, a, o)
}
