package apiserver

import (
	"fmt"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	apiextensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	apiextensionsoptions "k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	crdopenapi "k8s.io/apiextensions-apiserver/pkg/controller/openapi"
	crdopenapiv3 "k8s.io/apiextensions-apiserver/pkg/controller/openapiv3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// apiExtensionsConfig is the configuration of the apiextensions-apiserver
// that serves CustomResourceDefinitions and custom resources as the
// delegate of skiff's server, built as kube-apiserver builds it: from a
// copy of the main server's configuration (the same authentication,
// authorization, admission, loopback and OpenAPI), with its own storage
// codec for the apiextensions.k8s.io types and its own post-start hooks.
// Conversion webhooks are called through resolver, as admission webhooks.
func apiExtensionsConfig(main genericapiserver.Config, etcd options.EtcdOptions, kubeInformers informers.SharedInformerFactory, resolver webhook.ServiceResolver) (*apiextensionsapiserver.Config, error) {
	c := main
	c.PostStartHooks = map[string]genericapiserver.PostStartHookConfigEntry{}
	c.RESTOptionsGetter = nil
	// CustomResourceDefinitions are stored as kube-apiserver stores them:
	// v1beta1, the more compact, decodable as v1.
	etcd.StorageConfig.Codec = apiextensionsapiserver.Codecs.LegacyCodec(v1beta1.SchemeGroupVersion, apiextensionsv1.SchemeGroupVersion)
	etcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(v1beta1.SchemeGroupVersion, schema.GroupKind{Group: v1beta1.GroupName})
	etcd.SkipHealthEndpoints = true // the main server checks etcd
	if err := etcd.ApplyTo(&c); err != nil {
		return nil, fmt.Errorf("apiextensions etcd storage: %w", err)
	}
	c.MergedResourceConfig = apiextensionsapiserver.DefaultAPIResourceConfigSource()
	return &apiextensionsapiserver.Config{
		GenericConfig: &genericapiserver.RecommendedConfig{Config: c, SharedInformerFactory: kubeInformers},
		ExtraConfig: apiextensionsapiserver.ExtraConfig{
			CRDRESTOptionsGetter: apiextensionsoptions.NewCRDRESTOptionsGetter(etcd, c.ResourceTransformers, c.StorageObjectCountTracker),
			MasterCount:          1,
			ServiceResolver:      resolver,
			AuthResolverWrapper:  webhook.NewDefaultAuthenticationInfoResolverWrapper(nil, nil, c.LoopbackClientConfig, nil),
		},
	}, nil
}

// publishCRDs makes the main server show custom resources where clients
// look for them: their OpenAPI in its /openapi/v2 and /openapi/v3 (kubectl
// explain, client-side validation) and their groups in its /apis list.
// (kube-apiserver gets both from its aggregator.) Run it as a post-start
// hook: the OpenAPI services exist once the server is prepared.
func publishCRDs(main *genericapiserver.GenericAPIServer, crds *apiextensionsapiserver.CustomResourceDefinitions) genericapiserver.PostStartHookFunc {
	informer := crds.Informers.Apiextensions().V1().CustomResourceDefinitions()
	v2 := crdopenapi.NewController(informer)
	v3 := crdopenapiv3.NewController(informer)
	groups := &crdGroups{server: main, lister: informer.Lister(), served: map[string]bool{}, builtin: map[string]bool{}}
	return func(ctx genericapiserver.PostStartHookContext) error {
		// The groups installed by now are built in: a CRD adding a kind to
		// one of them must not replace or remove its entry.
		for _, p := range main.ListedPaths() {
			if name, ok := strings.CutPrefix(p, "/apis/"); ok && !strings.Contains(name, "/") {
				groups.builtin[name] = true
			}
		}
		// apiextensions.k8s.io itself is served by the delegate, which
		// lists no groups of its own.
		gv := metav1.GroupVersionForDiscovery{GroupVersion: apiextensionsv1.SchemeGroupVersion.String(), Version: apiextensionsv1.SchemeGroupVersion.Version}
		main.DiscoveryGroupManager.AddGroup(metav1.APIGroup{Name: apiextensionsv1.GroupName, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv})
		groups.builtin[apiextensionsv1.GroupName] = true
		if main.StaticOpenAPISpec != nil && main.OpenAPIVersionedService != nil {
			go v2.Run(main.StaticOpenAPISpec, main.OpenAPIVersionedService, ctx.Done())
		}
		if main.OpenAPIV3VersionedService != nil {
			go v3.Run(main.OpenAPIV3VersionedService, ctx.Done())
		}
		reg, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { groups.sync() },
			UpdateFunc: func(any, any) { groups.sync() },
			DeleteFunc: func(any) { groups.sync() },
		})
		if err != nil {
			return err
		}
		go func() {
			<-ctx.Done()
			_ = informer.Informer().RemoveEventHandler(reg)
		}()
		return nil
	}
}

// crdGroups keeps the main server's /apis list of groups in step with the
// established CustomResourceDefinitions. Informer handlers run one at a
// time, so sync needs no lock.
type crdGroups struct {
	server *genericapiserver.GenericAPIServer
	lister interface {
		List(labels.Selector) ([]*apiextensionsv1.CustomResourceDefinition, error)
	}
	served, builtin map[string]bool
}

func (g *crdGroups) sync() {
	crds, err := g.lister.List(labels.Everything())
	if err != nil {
		return
	}
	now := map[string]bool{}
	for _, group := range CRDAPIGroups(crds) {
		if g.builtin[group.Name] {
			continue
		}
		g.server.DiscoveryGroupManager.AddGroup(group)
		now[group.Name] = true
	}
	for name := range g.served {
		if !now[name] {
			g.server.DiscoveryGroupManager.RemoveGroup(name)
		}
	}
	g.served = now
}

// CRDAPIGroups returns the API groups the established
// CustomResourceDefinitions serve, each with its served versions in
// Kubernetes' version order (v2 before v1 before v1beta1), as discovery
// lists them.
func CRDAPIGroups(crds []*apiextensionsv1.CustomResourceDefinition) []metav1.APIGroup {
	versions := map[string]map[string]bool{}
	for _, crd := range crds {
		if !established(crd) {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			if versions[crd.Spec.Group] == nil {
				versions[crd.Spec.Group] = map[string]bool{}
			}
			versions[crd.Spec.Group][v.Name] = true
		}
	}
	names := make([]string, 0, len(versions))
	for name := range versions {
		names = append(names, name)
	}
	sort.Strings(names)
	groups := make([]metav1.APIGroup, 0, len(names))
	for _, name := range names {
		vs := make([]string, 0, len(versions[name]))
		for v := range versions[name] {
			vs = append(vs, v)
		}
		sort.Slice(vs, func(i, j int) bool { return version.CompareKubeAwareVersionStrings(vs[i], vs[j]) > 0 })
		g := metav1.APIGroup{Name: name}
		for _, v := range vs {
			g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: name + "/" + v, Version: v})
		}
		g.PreferredVersion = g.Versions[0]
		groups = append(groups, g)
	}
	return groups
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}
