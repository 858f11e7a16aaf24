package apiserver

import (
	"fmt"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/registry/generic"
	genericapiserver "k8s.io/apiserver/pkg/server"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/client-go/informers"
	flowcontrolinstall "k8s.io/kubernetes/pkg/apis/flowcontrol/install"
	nodeinstall "k8s.io/kubernetes/pkg/apis/node/install"
	flowcontrolrest "k8s.io/kubernetes/pkg/registry/flowcontrol/rest"
	noderest "k8s.io/kubernetes/pkg/registry/node/rest"
)

// upstreamGroup is an API group served with k8s.io/kubernetes' own
// registry: its internal types, conversions, defaults, validation and
// printers, installed into skiff's scheme beside the groups skiff serves
// with external types (whose internal version is the external one).
type upstreamGroup struct {
	// install adds the group's internal and external types, conversions
	// and defaults to a scheme.
	install func(*runtime.Scheme)
	// versions are the served versions, preferred first.
	versions []schema.GroupVersion
	// provider builds the group's REST storage; informers are the API
	// server's own, for a provider with a post-start hook.
	provider func(informers.SharedInformerFactory) restStorageProvider
}

// restStorageProvider is what kube-apiserver's registries of a group offer
// (k8s.io/kubernetes/pkg/registry/<group>/rest).
type restStorageProvider interface {
	GroupName() string
	NewRESTStorage(serverstorage.APIResourceConfigSource, generic.RESTOptionsGetter) (genericapiserver.APIGroupInfo, error)
}

// upstreamGroups lists the groups served by Kubernetes' registries:
// flowcontrol.apiserver.k8s.io (API Priority and Fairness, with its
// bootstrap configuration) and node.k8s.io (RuntimeClass).
func upstreamGroups() []upstreamGroup {
	return []upstreamGroup{
		{
			install:  flowcontrolinstall.Install,
			versions: []schema.GroupVersion{flowcontrolv1.SchemeGroupVersion},
			provider: func(f informers.SharedInformerFactory) restStorageProvider {
				return flowcontrolrest.RESTStorageProvider{InformerFactory: f}
			},
		},
		{
			install:  nodeinstall.Install,
			versions: []schema.GroupVersion{nodev1.SchemeGroupVersion},
			provider: func(informers.SharedInformerFactory) restStorageProvider { return noderest.RESTStorageProvider{} },
		},
	}
}

// installUpstreamGroups serves every upstream group from generic, over
// skiff's scheme and codecs (the providers' own APIGroupInfo names
// k8s.io/kubernetes' global scheme, which the storage codecs built from
// skiff's scheme do not use), with each provider's post-start hook.
func installUpstreamGroups(generic *genericapiserver.GenericAPIServer, scheme *runtime.Scheme, codecs serializer.CodecFactory,
	resources serverstorage.APIResourceConfigSource, restOptions generic.RESTOptionsGetter, f informers.SharedInformerFactory) error {
	for _, g := range upstreamGroups() {
		p := g.provider(f)
		upstreamInfo, err := p.NewRESTStorage(resources, restOptions)
		if err != nil {
			return fmt.Errorf("API group %s: %w", p.GroupName(), err)
		}
		info := genericapiserver.NewDefaultAPIGroupInfo(p.GroupName(), scheme, runtime.NewParameterCodec(scheme), codecs)
		info.PrioritizedVersions = g.versions
		info.VersionedResourcesStorageMap = upstreamInfo.VersionedResourcesStorageMap
		if err := generic.InstallAPIGroup(&info); err != nil {
			return fmt.Errorf("install API group %s: %w", p.GroupName(), err)
		}
		if hooks, ok := p.(genericapiserver.PostStartHookProvider); ok {
			name, hook, err := hooks.PostStartHook()
			if err != nil {
				return fmt.Errorf("API group %s: %w", p.GroupName(), err)
			}
			if err := generic.AddPostStartHook(name, hook); err != nil {
				return fmt.Errorf("API group %s: %w", p.GroupName(), err)
			}
		}
	}
	return nil
}
