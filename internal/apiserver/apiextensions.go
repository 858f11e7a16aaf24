package apiserver

import (
	"fmt"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
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
	corelisters "k8s.io/client-go/listers/core/v1"
)

// apiExtensionsConfig is the configuration of the apiextensions-apiserver
// that serves CustomResourceDefinitions and custom resources as the
// delegate of skiff's server, built as kube-apiserver builds it: from a
// copy of the main server's configuration (the same authentication,
// authorization, admission, loopback and OpenAPI), with its own storage
// codec for the apiextensions.k8s.io types and its own post-start hooks.
func apiExtensionsConfig(main genericapiserver.Config, etcd options.EtcdOptions, kubeInformers informers.SharedInformerFactory) (*apiextensionsapiserver.Config, error) {
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
	services := kubeInformers.Core().V1().Services().Lister()
	return &apiextensionsapiserver.Config{
		GenericConfig: &genericapiserver.RecommendedConfig{Config: c, SharedInformerFactory: kubeInformers},
		ExtraConfig: apiextensionsapiserver.ExtraConfig{
			CRDRESTOptionsGetter: apiextensionsoptions.NewCRDRESTOptionsGetter(etcd, c.ResourceTransformers, c.StorageObjectCountTracker),
			MasterCount:          1,
			ServiceResolver:      clusterIPResolver{services},
			AuthResolverWrapper:  webhook.NewDefaultAuthenticationInfoResolverWrapper(nil, nil, c.LoopbackClientConfig, nil),
		},
	}, nil
}

// clusterIPResolver sends conversion webhook calls to a Service's
// ClusterIP, as kube-apiserver does without --enable-aggregator-routing.
type clusterIPResolver struct {
	services corelisters.ServiceLister
}

func (r clusterIPResolver) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	svc, err := r.services.Services(namespace).Get(name)
	if err != nil {
		return nil, err
	}
	return serviceURL(svc, port)
}

// serviceURL is where a webhook behind svc's port is called.
func serviceURL(svc *corev1.Service, port int32) (*url.URL, error) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return &url.URL{Scheme: "https", Host: svc.Spec.ExternalName + ":" + strconv.Itoa(int(port))}, nil
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return nil, fmt.Errorf("service %s/%s has no cluster IP", svc.Namespace, svc.Name)
	}
	for _, p := range svc.Spec.Ports {
		if p.Port == port {
			return &url.URL{Scheme: "https", Host: svc.Spec.ClusterIP + ":" + strconv.Itoa(int(port))}, nil
		}
	}
	return nil, fmt.Errorf("service %s/%s has no port %d", svc.Namespace, svc.Name, port)
}
