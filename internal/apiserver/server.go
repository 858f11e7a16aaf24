// Package apiserver assembles skiff's Kubernetes-compatible API server from
// k8s.io/apiserver's generic server: the scheme of served types, their
// etcd-backed registries, x509 client authentication, admission and OpenAPI.
package apiserver

import (
	"context"
	"fmt"
	apiserverapi "k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/request/anonymous"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	authunion "k8s.io/apiserver/pkg/authentication/request/union"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/x509"
	tokenunion "k8s.io/apiserver/pkg/authentication/token/union"
	discoveryendpoint "k8s.io/apiserver/pkg/endpoints/discovery/aggregated"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	genericfilters "k8s.io/apiserver/pkg/server/filters"
	"k8s.io/apiserver/pkg/server/options"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	utilflowcontrol "k8s.io/apiserver/pkg/util/flowcontrol"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientrest "k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
	aggregatorapiserver "k8s.io/kube-aggregator/pkg/apiserver"
	aggregatorscheme "k8s.io/kube-aggregator/pkg/apiserver/scheme"
	controlplaneapiserver "k8s.io/kubernetes/pkg/controlplane/apiserver"
	"k8s.io/metrics/pkg/apis/metrics"

	"skiff.dev/skiff/internal/apiserver/admission/certsigners"
	"skiff.dev/skiff/internal/apiserver/admission/certsubject"
	"skiff.dev/skiff/internal/apiserver/admission/noderestriction"
	"skiff.dev/skiff/internal/apiserver/admission/podsecurity"
	"skiff.dev/skiff/internal/apiserver/admission/priority"
	"skiff.dev/skiff/internal/apiserver/admission/quota"
	"skiff.dev/skiff/internal/apiserver/admission/runtimeclass"
	saadmission "skiff.dev/skiff/internal/apiserver/admission/serviceaccount"
	storageadmission "skiff.dev/skiff/internal/apiserver/admission/storage"
	"skiff.dev/skiff/internal/apiserver/admission/tolerationseconds"
	"skiff.dev/skiff/internal/apiserver/openapi"
	"skiff.dev/skiff/internal/join"
	"skiff.dev/skiff/internal/metrics/customapi"
	"skiff.dev/skiff/internal/metrics/resourceapi"
	"skiff.dev/skiff/internal/pki"
	authenticationreviews "skiff.dev/skiff/internal/registry/authentication"
	authorizationreviews "skiff.dev/skiff/internal/registry/authorization"
	"skiff.dev/skiff/internal/registry/podsub"
	"skiff.dev/skiff/internal/registry/proxysub"
	rbacregistry "skiff.dev/skiff/internal/registry/rbac"
	schedulingregistry "skiff.dev/skiff/internal/registry/scheduling"
	"skiff.dev/skiff/internal/registry/store"
	"skiff.dev/skiff/internal/registry/tokenrequest"
	"skiff.dev/skiff/internal/serviceaccount"
	"skiff.dev/skiff/internal/storage/etcd"
)

// KubernetesVersion is the Kubernetes release whose API skiff serves.
const KubernetesVersion = "1.37.2"

// Config is what the API server needs to run.
type Config struct {
	// BindAddress and SecurePort are where HTTPS is served.
	BindAddress net.IP
	SecurePort  int
	// Listener, when set, is served instead of BindAddress and SecurePort.
	Listener net.Listener
	// CertFile and KeyFile are the serving certificate.
	CertFile, KeyFile string
	// ClientCAFile verifies client certificates.
	ClientCAFile string
	// Etcd reaches etcd: its client URLs and, for an etcd that serves
	// TLS, its CA and the client certificate to show.
	Etcd etcd.ClientConfig
	// EncryptionProviderConfig is an EncryptionConfiguration file
	// (kube-apiserver's --encryption-provider-config), reloaded when it
	// changes; empty stores every resource as it is.
	EncryptionProviderConfig string
	// Audit is the audit log; none by default.
	Audit AuditConfig
	// EtcdPrefix is the key prefix of every object; defaults to /registry.
	EtcdPrefix string
	// Allocations reserve ClusterIPs and NodePorts for Services.
	Allocations ServiceAllocations
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// DefaultNotReadyTolerationSeconds and DefaultUnreachableTolerationSeconds
	// are the NoExecute tolerations new pods get for a not-ready or
	// unreachable node (DefaultTolerationSeconds admission); 0 means 300.
	DefaultNotReadyTolerationSeconds, DefaultUnreachableTolerationSeconds int64
	// JoinToken, when set, lets agents obtain node certificates signed by CA
	// at join.Path.
	JoinToken *join.Token
	CA        *pki.CA
	// KubeletClientCertFile and KubeletClientKeyFile are the client
	// certificate (CommonName kube-apiserver-kubelet-client) that reaches the
	// node agents' kubelet servers for pods/log, exec, attach and
	// portforward; without them those answer 503.
	KubeletClientCertFile, KubeletClientKeyFile string
	// KubeletCAFile verifies the kubelets' serving certificates
	// (kube-apiserver's --kubelet-certificate-authority); "" does not.
	KubeletCAFile string
	// ProxyTransport reaches Service endpoints and pods for
	// services/proxy and pods/proxy; nil means proxysub.DefaultTransport().
	ProxyTransport http.RoundTripper
	// ResourceMetrics, when set, is the usage metrics.k8s.io serves; nil
	// serves no metrics.k8s.io.
	ResourceMetrics resourceapi.Usage
	// CustomMetrics, when set, are the values custom.metrics.k8s.io
	// serves; nil serves no custom.metrics.k8s.io.
	CustomMetrics customapi.Values
	AuthorizationOptions
	// ExternalAddress is host:port where clients reach the API (the
	// discovery document's jwks_uri).
	ExternalAddress string
	// ServiceAccounts configures service account tokens: the TokenRequest
	// API, their authenticator and the issuer's discovery documents. With
	// no SigningKeyFile none of these is served.
	ServiceAccounts serviceaccount.Options
	// DisableAdmissionPlugins names admission plugins not to run, as
	// kube-apiserver's --disable-admission-plugins (only ServiceAccount
	// can be turned off).
	DisableAdmissionPlugins []string
	// AggregationOptions configure the API aggregator's front-proxy
	// authentication.
	AggregationOptions
}

// ServiceAllocations is the part of the Service registry that hands out
// ClusterIPs and NodePorts; nil serves Services without allocation.
type ServiceAllocations interface {
	Wrap(s *store.Storage) *store.Storage
}

// Server is a configured API server, ready to run.
type Server struct {
	// aggregator is the front of the delegation chain: kube-aggregator,
	// then skiff's server, then apiextensions-apiserver.
	aggregator *aggregatorapiserver.APIAggregator
	// Loopback is a client configuration with full rights over the server,
	// for components running in the same process.
	Loopback *clientrest.Config
	log      *slog.Logger
}

// New builds the API server: nothing listens until Run.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.EtcdPrefix == "" {
		cfg.EtcdPrefix = "/registry"
	}
	guard := &rbacregistry.Guard{}
	groups := Groups(guard)
	scheme, codecs, err := NewScheme(groups)
	if err != nil {
		return nil, err
	}
	var kubeletTransport, kubeletInsecure http.RoundTripper
	if cfg.KubeletClientCertFile != "" {
		kubeletTransport, err = podsub.KubeletTransport(cfg.KubeletClientCertFile, cfg.KubeletClientKeyFile, cfg.KubeletCAFile)
		if err != nil {
			return nil, err
		}
		if kubeletInsecure, err = podsub.KubeletTransport(cfg.KubeletClientCertFile, cfg.KubeletClientKeyFile, ""); err != nil {
			return nil, err
		}
	}

	c := genericapiserver.NewConfig(codecs)
	c.EffectiveVersion = skiffVersion{basecompatibility.NewEffectiveVersionFromString(KubernetesVersion, "", "")}
	c.ExternalAddress = cfg.ExternalAddress

	serving := options.NewSecureServingOptions().WithLoopback()
	serving.BindAddress = cfg.BindAddress
	serving.BindPort = cfg.SecurePort
	serving.Listener = cfg.Listener
	serving.ServerCert.CertKey.CertFile = cfg.CertFile
	serving.ServerCert.CertKey.KeyFile = cfg.KeyFile
	if err := serving.ApplyTo(&c.SecureServing, &c.LoopbackClientConfig); err != nil {
		return nil, fmt.Errorf("secure serving: %w", err)
	}

	clientCA, err := dynamiccertificates.NewDynamicCAContentFromFile("client-ca", cfg.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("client CA: %w", err)
	}
	if err := c.Authentication.ApplyClientCert(clientCA, c.SecureServing); err != nil {
		return nil, fmt.Errorf("client certificate authentication: %w", err)
	}
	// Client certificates, and anonymous requests to the public-information
	// paths only (as kube-apiserver with anonymous conditions, and what
	// system:public-info-viewer allows): a pod reaches /version through
	// the kubernetes Service without credentials; anything else
	// unauthenticated gets 401.
	// Service account tokens, checked against the objects in the stores
	// built below.
	var saIssuer *serviceaccount.Issuer
	saGetter := &serviceaccount.StoreGetter{}
	requestTokens := []authenticator.Request{}
	if cfg.ServiceAccounts.SigningKeyFile != "" {
		if saIssuer, err = serviceaccount.New(cfg.ServiceAccounts); err != nil {
			return nil, err
		}
		c.Authentication.APIAudiences = saIssuer.Audiences()
		requestTokens = append(requestTokens, saIssuer.Authenticator(saGetter))
	}
	var tokens []authenticator.Token
	if cfg.JoinToken != nil {
		// A join token authenticates as a bootstrap user that may only
		// obtain node credentials: the server's own, or a bootstrap token
		// (skiff token create), a Secret in kube-system read through the
		// loopback client.
		loopbackClient, err := kubernetes.NewForConfig(c.LoopbackClientConfig)
		if err != nil {
			return nil, fmt.Errorf("loopback client: %w", err)
		}
		secrets := func(ctx context.Context, name string) (*corev1.Secret, error) {
			return loopbackClient.CoreV1().Secrets(metav1.NamespaceSystem).Get(ctx, name, metav1.GetOptions{})
		}
		// Join and bootstrap tokens carry no audience, as kube-apiserver's
		// bootstrap tokens.
		tokens = append(tokens, authenticator.WrapAudienceAgnosticToken(c.Authentication.APIAudiences,
			join.TokenAuthenticator{Token: *cfg.JoinToken, Secrets: secrets}))
	}
	// Bearer tokens alone: what TokenReview answers for.
	tokenAuthenticator := authunion.New(append([]authenticator.Request{bearertoken.New(tokenunion.New(tokens...))}, requestTokens...)...)
	// Every authenticated user is in system:authenticated (what
	// system:basic-user, system:discovery and system:public-info-viewer are
	// bound to); anonymous requests are not.
	// Credentials that fail (a bad certificate or token) get 401 even on
	// the public paths, as kube-apiserver: anonymous only without any.
	// A front proxy's user (the aggregator's, kube-apiserver's request
	// header authentication) is checked first, as kube-apiserver does.
	requestHeader, err := cfg.RequestHeader.ToAuthenticationRequestHeaderConfig()
	if err != nil {
		return nil, fmt.Errorf("request header authentication: %w", err)
	}
	c.Authentication.RequestHeaderConfig = requestHeader
	if requestHeader != nil {
		// The front proxy's CA is offered in the TLS handshake too (as
		// kube-apiserver does), or a proxy's client would send no
		// certificate.
		if err := c.Authentication.ApplyClientCert(requestHeader.CAContentProvider, c.SecureServing); err != nil {
			return nil, fmt.Errorf("request header client CA: %w", err)
		}
	}
	userAuthenticators := []authenticator.Request{x509.NewDynamic(clientCA.VerifyOptions, x509.CommonNameUserConversion), tokenAuthenticator}
	if rh := requestHeaderAuthenticator(requestHeader); rh != nil {
		userAuthenticators = append([]authenticator.Request{rh}, userAuthenticators...)
	}
	c.Authentication.Authenticator = authunion.NewFailOnError(
		group.NewAuthenticatedGroupAdder(authunion.New(userAuthenticators...)),
		anonymous.NewAuthenticator(publicInfoPaths()))
	// Repeated refused bearer tokens from one address are slowed down and
	// logged (join token guessing). Keep this after every authenticator.
	c.Authentication.Authenticator = join.Throttle(c.Authentication.Authenticator, join.NewLimiter(), cfg.Logger.With("component", "authentication"))

	etcdOpts := options.NewEtcdOptions(storagebackend.NewDefaultConfig(cfg.EtcdPrefix, nil))
	etcdOpts.StorageConfig.Transport.ServerList = cfg.Etcd.Endpoints
	etcdOpts.StorageConfig.Transport.TrustedCAFile = cfg.Etcd.CAFile
	etcdOpts.StorageConfig.Transport.CertFile = cfg.Etcd.CertFile
	etcdOpts.StorageConfig.Transport.KeyFile = cfg.Etcd.KeyFile
	etcdOpts.EncryptionProviderConfigFilepath = cfg.EncryptionProviderConfig
	etcdOpts.EncryptionProviderConfigAutomaticReload = cfg.EncryptionProviderConfig != ""
	etcdOpts.DefaultStorageMediaType = runtime.ContentTypeProtobuf
	resourceConfig := serverstorage.NewResourceConfig()
	for _, g := range groups {
		resourceConfig.EnableVersions(g.Versions...)
	}
	for _, g := range upstreamGroups() {
		resourceConfig.EnableVersions(g.versions...)
	}
	encoding := serverstorage.NewDefaultResourceEncodingConfigForEffectiveVersion(scheme, c.EffectiveVersion)
	storageFactory := serverstorage.NewDefaultStorageFactory(etcdOpts.StorageConfig, etcdOpts.DefaultStorageMediaType,
		codecs, encoding, resourceConfig, nil)
	if err := etcdOpts.ApplyWithStorageFactoryTo(storageFactory, c); err != nil {
		return nil, fmt.Errorf("etcd storage: %w", err)
	}

	if err := applyAudit(cfg.Audit, c); err != nil {
		return nil, err
	}

	namer := openapinamer.NewDefinitionNamer(scheme, apiextensionsapiserver.Scheme, aggregatorscheme.Scheme)
	c.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openapi.GetOpenAPIDefinitions, namer)
	c.OpenAPIConfig.Info.Title = "Kubernetes"
	c.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openapi.GetOpenAPIDefinitions, namer)
	c.OpenAPIV3Config.Info.Title = "Kubernetes"

	client, err := kubernetes.NewForConfig(c.LoopbackClientConfig)
	if err != nil {
		return nil, fmt.Errorf("loopback client: %w", err)
	}
	informerFactory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	authz, err := newAuthorization(informerFactory, cfg.AuthorizationOptions)
	if err != nil {
		return nil, err
	}
	c.Authorization.Authorizer = authz.authorizer
	if cfg.JoinToken != nil {
		c.Authorization.Authorizer = join.Authorizer(c.Authorization.Authorizer)
	}
	c.RuleResolver = authz.rules
	// API Priority and Fairness, as kube-apiserver by default: requests
	// are queued by the FlowSchemas and PriorityLevelConfigurations the
	// flowcontrol group serves, in place of the max-in-flight limits.
	// Long-running, as kube-apiserver's: watches and proxying, and the
	// streams of exec, attach, logs and port-forward, which neither time
	// out nor hold a seat of their priority level.
	c.LongRunningFunc = genericfilters.BasicLongRunningRequestCheck(sets.NewString("watch", "proxy"),
		sets.NewString("attach", "exec", "proxy", "log", "portforward"))
	c.FlowControl = utilflowcontrol.New(informerFactory, client.FlowcontrolV1(), c.MaxRequestsInFlight+c.MaxMutatingRequestsInFlight)
	guard.Authorizer, guard.Rules = c.Authorization.Authorizer, authz.rbacRules
	nsLifecycle, err := lifecycle.NewLifecycle(sets.New("default", "kube-system", "kube-public"))
	if err != nil {
		return nil, fmt.Errorf("namespace lifecycle admission: %w", err)
	}
	nsLifecycle.SetExternalKubeClientSet(client)
	nsLifecycle.SetExternalKubeInformerFactory(informerFactory)
	if err := nsLifecycle.ValidateInitialization(); err != nil {
		return nil, fmt.Errorf("namespace lifecycle admission: %w", err)
	}
	nodeRestriction, err := noderestriction.New(informerFactory, authz.authorizer)
	if err != nil {
		return nil, fmt.Errorf("node restriction admission: %w", err)
	}
	certSigners, err := certsigners.New(authz.authorizer)
	if err != nil {
		return nil, err
	}
	podSecurity, err := podsecurity.New(client, informerFactory)
	if err != nil {
		return nil, fmt.Errorf("pod security admission: %w", err)
	}
	limitRanger, err := quota.NewLimitRanger(client, informerFactory)
	if err != nil {
		return nil, err
	}
	priorityAdmission, err := priority.New(client, informerFactory)
	if err != nil {
		return nil, err
	}
	runtimeClassAdmission, err := runtimeclass.New(client, informerFactory)
	if err != nil {
		return nil, err
	}
	resourceQuota, err := quota.NewResourceQuota(client, informerFactory, resourceConfig, c.DrainedNotify())
	if err != nil {
		return nil, err
	}
	resolver, err := newServiceResolver(c, informerFactory)
	if err != nil {
		return nil, err
	}
	dynamicAdmission, err := newDynamicAdmission(c, client, informerFactory, authz.authorizer, resolver)
	if err != nil {
		return nil, err
	}
	// In kube-apiserver's order: mutating plugins run first, then the
	// validating ones, each set in this order.
	plugins := []admission.Interface{nsLifecycle}
	plugins = append(plugins, limitRanger)
	if !slices.Contains(cfg.DisableAdmissionPlugins, saadmission.PluginName) {
		plugins = append(plugins, saadmission.New(informerFactory.Core().V1().ServiceAccounts(), client))
	}
	storagePlugins, err := storageadmission.New(informerFactory)
	if err != nil {
		return nil, err
	}
	plugins = append(plugins, storagePlugins...)
	plugins = append(plugins, nodeRestriction, priorityAdmission,
		tolerationseconds.New(orDefault(cfg.DefaultNotReadyTolerationSeconds), orDefault(cfg.DefaultUnreachableTolerationSeconds)),
		podSecurity, runtimeClassAdmission, certsubject.New(), certSigners)
	// Webhooks mutate after the built-in mutating plugins and validate
	// last, after the policies (the chain runs every Admit before any
	// Validate, so their place among validating plugins is what counts).
	plugins = append(plugins, dynamicAdmission.Mutating, dynamicAdmission.ValidatingPolicy, dynamicAdmission.Validating)
	// ResourceQuota is kube-apiserver's last plugin (after the webhooks).
	plugins = append(plugins, resourceQuota)
	c.AdmissionControl = admission.NewChainHandler(plugins...)

	loopback := clientrest.CopyConfig(c.LoopbackClientConfig)
	// CustomResourceDefinitions are served by apiextensions-apiserver, the
	// delegate of skiff's server, as in kube-apiserver's chain; both list
	// their groups in one aggregated discovery document.
	c.AggregatedDiscoveryGroupManager = discoveryendpoint.NewResourceManager("apis")
	extensionsConfig, err := apiExtensionsConfig(*c, *etcdOpts, informerFactory, resolver)
	if err != nil {
		return nil, err
	}
	extensions, err := extensionsConfig.Complete().New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("apiextensions API server: %w", err)
	}
	aggregatorCfg, err := aggregatorConfig(ctx, *c, *etcdOpts, cfg.AggregationOptions, informerFactory, resolver)
	if err != nil {
		return nil, err
	}
	completed := c.Complete(informerFactory)
	generic, err := completed.New("skiff-apiserver", extensions.GenericAPIServer)
	if err != nil {
		return nil, fmt.Errorf("generic API server: %w", err)
	}
	if cfg.JoinToken != nil && cfg.CA != nil {
		generic.Handler.NonGoRestfulMux.Handle(join.Path, join.Handler(cfg.CA))
	}
	generic.AddPostStartHookOrDie("start-skiff-informers", func(hookCtx genericapiserver.PostStartHookContext) error {
		informerFactory.Start(hookCtx.Done())
		return nil
	})
	// Ready only once the bootstrap policy is stored and the authorizer
	// sees it, so that no component is refused while the caches fill.
	generic.AddPostStartHookOrDie("rbac/bootstrap-roles", func(hookCtx genericapiserver.PostStartHookContext) error {
		policy := BootstrapPolicy()
		if err := policy.Ensure(hookCtx, client); err != nil {
			return err
		}
		return authz.waitFor(hookCtx, policy)
	})
	generic.AddPostStartHookOrDie("scheduling/bootstrap-system-priority-classes", func(hookCtx genericapiserver.PostStartHookContext) error {
		return schedulingregistry.EnsureSystemClasses(hookCtx, client.SchedulingV1())
	})

	var metricsStorage map[string]rest.Storage
	if cfg.ResourceMetrics != nil {
		// Asked for before the informers start.
		metricsStorage = resourceapi.Storage(cfg.ResourceMetrics,
			informerFactory.Core().V1().Nodes().Lister(), informerFactory.Core().V1().Pods().Lister())
	}
	var customHandler *customapi.Handler
	if cfg.CustomMetrics != nil {
		customHandler = &customapi.Handler{
			Values: cfg.CustomMetrics, Pods: informerFactory.Core().V1().Pods().Lister(),
			Workloads: customapi.ClientWorkloads{Client: client},
		}
	}
	restOptions := c.RESTOptionsGetter
	// Every group's storage, for the groups that serve it as a view.
	built := map[schema.GroupResource]builtKind{}
	for _, g := range groups {
		info := genericapiserver.NewDefaultAPIGroupInfo(g.Name, scheme, runtime.NewParameterCodec(scheme), codecs)
		info.PrioritizedVersions = g.Versions
		versionStrings := make([]string, 0, len(g.Versions))
		for _, v := range g.Versions {
			versionStrings = append(versionStrings, v.String())
		}
		resources := map[string]*store.Storage{}
		for _, k := range g.Kinds {
			st, err := store.New(k, store.Options{Scheme: scheme, RESTOptions: restOptions, Versions: versionStrings})
			if err != nil {
				return nil, err
			}
			if k.Resource.Group == "" && k.Resource.Resource == "services" && cfg.Allocations != nil {
				st = cfg.Allocations.Wrap(st)
			}
			resources[k.Resource.Resource] = st
			built[k.Resource] = builtKind{kind: k, storage: st}
		}
		for _, gr := range g.Views {
			if _, ok := built[gr]; !ok {
				return nil, fmt.Errorf("API group %s: view of %s, which no group before it serves", g.Name, gr)
			}
		}
		for _, v := range g.Versions {
			m := map[string]rest.Storage{}
			for _, k := range g.Kinds {
				if !scheme.Recognizes(v.WithKind(k.Kind)) {
					continue
				}
				for path, s := range resources[k.Resource.Resource].Map(k.Resource.Resource) {
					m[path] = s
				}
			}
			for _, gr := range g.Views {
				b := built[gr]
				if !scheme.Recognizes(v.WithKind(b.kind.Kind)) {
					continue
				}
				for path, s := range b.storage.Map(gr.Resource) {
					m[path] = s
				}
			}
			if g.Name == "" {
				for path, s := range podSubresources(resources["pods"], resources["nodes"], kubeletTransport, kubeletInsecure, client) {
					m[path] = s
				}
				for path, s := range proxySubresources(resources, kubeletTransport, cfg.ProxyTransport) {
					m[path] = s
				}
				if saIssuer != nil {
					m["serviceaccounts/token"] = tokenREST(resources, saIssuer, saGetter)
				}
			}
			info.VersionedResourcesStorageMap[v.Version] = m
		}
		if g.Name == "" {
			if err := generic.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, &info); err != nil {
				return nil, fmt.Errorf("install core API: %w", err)
			}
			continue
		}
		if err := generic.InstallAPIGroup(&info); err != nil {
			return nil, fmt.Errorf("install API group %s: %w", g.Name, err)
		}
	}
	if err := installUpstreamGroups(generic, scheme, codecs, resourceConfig, restOptions, informerFactory); err != nil {
		return nil, err
	}
	reviews := []struct {
		group   string
		gv      schema.GroupVersion
		storage map[string]rest.Storage
	}{
		{authorizationv1.GroupName, authorizationv1.SchemeGroupVersion, authorizationreviews.Storage(authz.authorizer, authz.rules)},
		{authenticationv1.GroupName, authenticationv1.SchemeGroupVersion, authenticationreviews.Storage(tokenAuthenticator, c.Authentication.APIAudiences)},
	}
	for _, r := range reviews {
		info := genericapiserver.NewDefaultAPIGroupInfo(r.group, scheme, runtime.NewParameterCodec(scheme), codecs)
		info.PrioritizedVersions = []schema.GroupVersion{r.gv}
		info.VersionedResourcesStorageMap[r.gv.Version] = r.storage
		if err := generic.InstallAPIGroup(&info); err != nil {
			return nil, fmt.Errorf("install API group %s: %w", r.group, err)
		}
	}
	if saIssuer != nil {
		if err := saIssuer.InstallDiscovery(generic.Handler.GoRestfulContainer, completed.ExternalAddress); err != nil {
			cfg.Logger.Warn("service account issuer discovery is not served", "err", err)
		}
	}
	if metricsStorage != nil {
		info := genericapiserver.NewDefaultAPIGroupInfo(metrics.GroupName, scheme, runtime.NewParameterCodec(scheme), codecs)
		info.PrioritizedVersions = resourceapi.GroupVersions
		for _, gv := range resourceapi.GroupVersions {
			info.VersionedResourcesStorageMap[gv.Version] = metricsStorage
		}
		if err := generic.InstallAPIGroup(&info); err != nil {
			return nil, fmt.Errorf("install API group %s: %w", metrics.GroupName, err)
		}
	}
	if customHandler != nil {
		installMetricsGroup(generic, customapi.APIGroup(), customHandler)
		installMetricsGroup(generic, customapi.ExternalAPIGroup(), &customapi.ExternalHandler{Handler: *customHandler})
	}
	// The aggregator comes last, in front of everything installed above:
	// it registers a local APIService for each group version served
	// behind it, and one for each CustomResourceDefinition's.
	aggregator, err := controlplaneapiserver.CreateAggregatorServer(aggregatorCfg.Complete(), generic,
		extensions.Informers.Apiextensions().V1().CustomResourceDefinitions(), true, apiServicePriorities())
	if err != nil {
		return nil, fmt.Errorf("API aggregator: %w", err)
	}
	aggregator.GenericAPIServer.AddPostStartHookOrDie("start-cluster-authentication-info-controller",
		publishAuthenticationInfo(clientCA, requestHeader, client))
	return &Server{aggregator: aggregator, Loopback: loopback, log: cfg.Logger}, nil
}

// builtKind is a kind with the storage built for it.
type builtKind struct {
	kind    *store.Kind
	storage *store.Storage
}

// installMetricsGroup serves a metrics API group (custom.metrics.k8s.io,
// external.metrics.k8s.io) beside the REST API (its paths are not REST
// resources) and lists it in discovery, legacy and aggregated.
func installMetricsGroup(generic *genericapiserver.GenericAPIServer, group metav1.APIGroup, h http.Handler) {
	generic.Handler.NonGoRestfulMux.Handle("/apis/"+group.Name, h)
	generic.Handler.NonGoRestfulMux.HandlePrefix("/apis/"+group.Name+"/", h)
	// Listed, each version, so that the aggregator registers its local
	// APIService.
	for _, v := range group.Versions {
		generic.Handler.NonGoRestfulMux.Handle("/apis/"+v.GroupVersion, h)
	}
	generic.DiscoveryGroupManager.AddGroup(group)
	generic.AggregatedDiscoveryGroupManager.AddGroupVersion(group.Name, apidiscoveryv2.APIVersionDiscovery{
		Version: group.PreferredVersion.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
	})
}

// Run serves until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	prepared, err := s.aggregator.PrepareRun()
	if err != nil {
		return err
	}
	return prepared.Run(ctx)
}

// skiffVersion reports skiff's build in /version while keeping the
// Kubernetes version the API matches.
type skiffVersion struct {
	basecompatibility.MutableEffectiveVersion
}

func (v skiffVersion) Info() *version.Info {
	info := v.MutableEffectiveVersion.Info()
	info.GitVersion = "v" + KubernetesVersion + "+skiff"
	return info
}

var _ = schema.GroupVersion{}

func orDefault(seconds int64) int64 {
	if seconds == 0 {
		return tolerationseconds.DefaultSeconds
	}
	return seconds
}

func podSubresources(pods, nodes *store.Storage, kubeletTransport, kubeletInsecure http.RoundTripper, client kubernetes.Interface) map[string]rest.Storage {
	if pods == nil {
		return nil
	}
	cfg := podsub.Config{Pods: pods.Store, KubeletTransport: kubeletTransport, KubeletInsecureTransport: kubeletInsecure,
		Budgets: client.PolicyV1()}
	if nodes != nil {
		cfg.Nodes = nodes.Store
	}
	return podsub.Storage(cfg)
}

// proxySubresources serves services/proxy, pods/proxy and nodes/proxy over
// the core group's stores.
func proxySubresources(resources map[string]*store.Storage, kubeletTransport, transport http.RoundTripper) map[string]rest.Storage {
	cfg := proxysub.Config{Transport: transport, KubeletTransport: kubeletTransport}
	getter := func(resource string) rest.Getter {
		if st := resources[resource]; st != nil {
			return st.Store
		}
		return nil
	}
	cfg.Services, cfg.Endpoints, cfg.Pods, cfg.Nodes = getter("services"), getter("endpoints"), getter("pods"), getter("nodes")
	return proxysub.Storage(cfg)
}

// tokenREST serves serviceaccounts/token over the core group's stores and
// points the token authenticator's getter at them.
func tokenREST(resources map[string]*store.Storage, issuer *serviceaccount.Issuer, getter *serviceaccount.StoreGetter) rest.Storage {
	getterOf := func(resource string) rest.Getter {
		if st := resources[resource]; st != nil {
			return st.Store
		}
		return nil
	}
	getter.ServiceAccounts, getter.Pods, getter.Secrets, getter.Nodes = getterOf("serviceaccounts"), getterOf("pods"), getterOf("secrets"), getterOf("nodes")
	return &tokenrequest.REST{
		ServiceAccounts: getter.ServiceAccounts, Pods: getter.Pods, Secrets: getter.Secrets, Nodes: getter.Nodes, Issuer: issuer,
	}
}

// publicInfoPaths are the paths anyone may read without credentials, as
// Kubernetes' system:public-info-viewer role grants, and the service
// account issuer's discovery documents (system:service-account-issuer-
// discovery), which relying parties outside the cluster fetch.
func publicInfoPaths() []apiserverapi.AnonymousAuthCondition {
	var conds []apiserverapi.AnonymousAuthCondition
	for _, p := range append([]string{"/version", "/version/", "/healthz", "/livez", "/readyz"}, serviceaccount.DiscoveryPaths()...) {
		conds = append(conds, apiserverapi.AnonymousAuthCondition{Path: p})
	}
	return conds
}
