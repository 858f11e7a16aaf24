package apiserver

import (
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	apiextensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	apiextensionsoptions "k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/informers"
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
