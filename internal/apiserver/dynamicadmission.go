package apiserver

import (
	"fmt"
	"net/url"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"skiff.dev/skiff/internal/apiserver/admission/webhooks"
	"skiff.dev/skiff/internal/apiserver/serviceresolver"
)

// newServiceResolver is the one resolver of Service references that
// webhooks and aggregated APIs are reached through: a ready endpoint from
// the Service's EndpointSlices (kube-apiserver's
// --enable-aggregator-routing), the API server itself for
// default/kubernetes:443. Asked for before the informers start.
func newServiceResolver(c *genericapiserver.Config, informerFactory informers.SharedInformerFactory) (*serviceresolver.Resolver, error) {
	slices, err := proxy.NewEndpointSliceIndexerGetter(informerFactory.Discovery().V1().EndpointSlices())
	if err != nil {
		return nil, fmt.Errorf("service resolver: %w", err)
	}
	loopback, err := url.Parse(c.LoopbackClientConfig.Host)
	if err != nil {
		return nil, fmt.Errorf("service resolver: loopback address: %w", err)
	}
	return &serviceresolver.Resolver{
		Services:       informerFactory.Core().V1().Services().Lister(),
		EndpointSlices: slices,
		Loopback:       loopback,
	}, nil
}

// newDynamicAdmission builds the webhook and ValidatingAdmissionPolicy
// admission plugins over the loopback client.
func newDynamicAdmission(c *genericapiserver.Config, client kubernetes.Interface, informerFactory informers.SharedInformerFactory,
	authz authorizer.Authorizer, resolver *serviceresolver.Resolver) (webhooks.Plugins, error) {
	dynamicClient, err := dynamic.NewForConfig(c.LoopbackClientConfig)
	if err != nil {
		return webhooks.Plugins{}, fmt.Errorf("dynamic admission: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery()))
	// Forget what discovery said every 30 seconds, as k8s.io/apiserver's
	// admission options do: a policy's paramKind may be a CRD created
	// after the first lookup.
	go wait.Until(mapper.Reset, 30*time.Second, c.DrainedNotify())
	return webhooks.New(webhooks.Config{
		Client: client, Dynamic: dynamicClient, Informers: informerFactory, Authorizer: authz,
		RESTMapper: mapper, ServiceResolver: resolver, Loopback: c.LoopbackClientConfig,
		EffectiveVersion: c.EffectiveVersion, Drained: c.DrainedNotify(),
	})
}
