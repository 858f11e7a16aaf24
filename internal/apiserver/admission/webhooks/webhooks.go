// Package webhooks builds kube-apiserver's dynamic admission: k8s.io/apiserver's
// MutatingAdmissionWebhook, ValidatingAdmissionPolicy (CEL) and
// ValidatingAdmissionWebhook plugins, initialized as kube-apiserver
// initializes them. They read their configuration
// (admissionregistration.k8s.io objects) through the shared informers;
// webhooks named by a Service are called at an endpoint the service
// resolver picks, their serving certificate verified against caBundle for
// the name <service>.<namespace>.svc.
package webhooks

import (
	"fmt"

	"go.opentelemetry.io/otel/trace/noop"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	webhookinit "k8s.io/apiserver/pkg/admission/plugin/webhook/initializer"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/mutating"
	webhookvalidating "k8s.io/apiserver/pkg/admission/plugin/webhook/validating"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	webhookutil "k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
	"k8s.io/kubernetes/pkg/kubeapiserver/admission/exclusion"
)

// Plugin names, as kube-apiserver's --enable-admission-plugins spells them.
const (
	MutatingWebhookName   = mutating.PluginName
	ValidatingPolicyName  = validating.PluginName
	ValidatingWebhookName = webhookvalidating.PluginName
)

// Config is what the plugins need from the API server.
type Config struct {
	Client     kubernetes.Interface
	Dynamic    dynamic.Interface
	Informers  informers.SharedInformerFactory
	Authorizer authorizer.Authorizer
	// RESTMapper maps a policy's paramKind to its resource.
	RESTMapper meta.RESTMapper
	// ServiceResolver picks the address of a webhook's Service.
	ServiceResolver webhookutil.ServiceResolver
	// Loopback is the API server's own client configuration, used for a
	// webhook at kubernetes.default.svc.
	Loopback         *rest.Config
	EffectiveVersion basecompatibility.EffectiveVersion
	// Drained is closed when the server has drained its requests.
	Drained <-chan struct{}
}

// Plugins are the three plugins: Mutating belongs with the mutating
// plugins of the chain, the other two at the end of the validating ones,
// policies before webhooks, as kube-apiserver orders them.
type Plugins struct {
	Mutating, ValidatingPolicy, Validating admission.Interface
}

// New builds and initializes the plugins. Their informers are registered
// with cfg.Informers, which the caller starts.
func New(cfg Config) (Plugins, error) {
	mutatingHook, err := mutating.NewMutatingWebhook(nil)
	if err != nil {
		return Plugins{}, fmt.Errorf("%s admission: %w", MutatingWebhookName, err)
	}
	validatingHook, err := webhookvalidating.NewValidatingAdmissionWebhook(nil)
	if err != nil {
		return Plugins{}, fmt.Errorf("%s admission: %w", ValidatingWebhookName, err)
	}
	policy, err := validating.NewPlugin(nil)
	if err != nil {
		return Plugins{}, fmt.Errorf("%s admission: %w", ValidatingPolicyName, err)
	}
	initializers := admission.PluginInitializers{
		initializer.New(cfg.Client, cfg.Dynamic, cfg.Informers, cfg.Authorizer, utilfeature.DefaultFeatureGate,
			cfg.EffectiveVersion, cfg.Drained, cfg.RESTMapper),
		webhookinit.NewPluginInitializer(
			webhookutil.NewDefaultAuthenticationInfoResolverWrapper(nil, nil, cfg.Loopback, noop.NewTracerProvider()),
			cfg.ServiceResolver),
	}
	plugins := Plugins{Mutating: mutatingHook, ValidatingPolicy: policy, Validating: validatingHook}
	for name, p := range map[string]admission.Interface{
		MutatingWebhookName: mutatingHook, ValidatingWebhookName: validatingHook, ValidatingPolicyName: policy,
	} {
		if wants, ok := p.(initializer.WantsExcludedAdmissionResources); ok {
			wants.SetExcludedAdmissionResources(exclusion.Excluded())
		}
		initializers.Initialize(p)
		if err := admission.ValidateInitialization(p); err != nil {
			return Plugins{}, fmt.Errorf("%s admission: %w", name, err)
		}
	}
	return plugins, nil
}
