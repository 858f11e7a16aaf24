package apiserver

import (
	"context"
	"fmt"
	"net"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/apiserver/pkg/server/options"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	aggregatorapiserver "k8s.io/kube-aggregator/pkg/apiserver"
	controlplaneapiserver "k8s.io/kubernetes/pkg/controlplane/apiserver"
	controlplaneoptions "k8s.io/kubernetes/pkg/controlplane/apiserver/options"
	"k8s.io/kubernetes/pkg/controlplane/controller/clusterauthenticationtrust"

	"skiff.dev/skiff/internal/metrics/customapi"
	"skiff.dev/skiff/internal/metrics/resourceapi"
	"skiff.dev/skiff/internal/wellknown"
)

// AggregationOptions are kube-apiserver's API aggregation flags: how front
// proxies are authenticated (--requestheader-*) and the certificate the
// aggregator shows to aggregated API servers (--proxy-client-cert-file,
// --proxy-client-key-file). Without RequestHeader.ClientCAFile no front
// proxy is trusted; without the proxy client certificate aggregated
// servers see no authenticated proxy.
type AggregationOptions struct {
	RequestHeader                           options.RequestHeaderAuthenticationOptions
	ProxyClientCertFile, ProxyClientKeyFile string
}

// FrontProxy is the configuration kubeadm gives kube-apiserver for API
// aggregation: request headers X-Remote-User, -Uid, -Group and -Extra-
// from a client certificate of the front-proxy CA named
// front-proxy-client, which is the aggregator's own.
func FrontProxy(caFile, clientCertFile, clientKeyFile string) AggregationOptions {
	return AggregationOptions{
		RequestHeader: options.RequestHeaderAuthenticationOptions{
			ClientCAFile:        caFile,
			UsernameHeaders:     []string{"X-Remote-User"},
			UIDHeaders:          []string{"X-Remote-Uid"},
			GroupHeaders:        []string{"X-Remote-Group"},
			ExtraHeaderPrefixes: []string{"X-Remote-Extra-"},
			AllowedNames:        []string{wellknown.FrontProxyClientCommonName},
		},
		ProxyClientCertFile: clientCertFile, ProxyClientKeyFile: clientKeyFile,
	}
}

// requestHeaderAuthenticator authenticates requests a trusted front proxy
// passes on with the user in its headers; nil when none is trusted.
func requestHeaderAuthenticator(rh *authenticatorfactory.RequestHeaderConfig) authenticator.Request {
	if rh == nil {
		return nil
	}
	return headerrequest.NewDynamicVerifyOptionsSecure(rh.CAContentProvider.VerifyOptions, rh.AllowedClientNames,
		rh.UsernameHeaders, rh.UIDHeaders, rh.GroupHeaders, rh.ExtraHeaderPrefixes)
}

// aggregatorConfig is the configuration of the kube-aggregator in front of
// skiff's server, made by Kubernetes' own CreateAggregatorConfig from a
// copy of the server's configuration, as kube-apiserver makes it: its own
// etcd codec for apiregistration.k8s.io, the proxy client certificate, and
// resolver for the Services of aggregated APIs.
func aggregatorConfig(ctx context.Context, main genericapiserver.Config, etcd options.EtcdOptions, opts AggregationOptions,
	kubeInformers informers.SharedInformerFactory, resolver aggregatorapiserver.ServiceResolver) (*aggregatorapiserver.Config, error) {
	o := controlplaneoptions.NewOptions()
	o.Etcd = &etcd
	o.ProxyClientCertFile, o.ProxyClientKeyFile = opts.ProxyClientCertFile, opts.ProxyClientKeyFile
	// The main server serves; completing these options must neither make
	// certificates nor look for a host address.
	o.SecureServing.BindPort = 0
	o.GenericServerRunOptions.AdvertiseAddress = net.IPv4(127, 0, 0, 1)
	o.GenericServerRunOptions.ExternalHost = main.ExternalAddress
	completed, err := o.Complete(ctx, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("aggregator options: %w", err)
	}
	c, err := controlplaneapiserver.CreateAggregatorConfig(main, completed, kubeInformers, resolver, nil, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("aggregator configuration: %w", err)
	}
	return c, nil
}

// publishAuthenticationInfo keeps the ConfigMap kube-system/extension-
// apiserver-authentication up to date with the CAs and request headers
// this server trusts, as kube-apiserver does: aggregated API servers read
// it to authenticate clients and the aggregator's proxied requests.
func publishAuthenticationInfo(clientCA dynamiccertificates.CAContentProvider, rh *authenticatorfactory.RequestHeaderConfig,
	client kubernetes.Interface) genericapiserver.PostStartHookFunc {
	info := clusterauthenticationtrust.ClusterAuthenticationInfo{ClientCA: clientCA}
	if rh != nil {
		info.RequestHeaderCA = rh.CAContentProvider
		info.RequestHeaderAllowedNames = rh.AllowedClientNames
		info.RequestHeaderUsernameHeaders = rh.UsernameHeaders
		info.RequestHeaderUIDHeaders = rh.UIDHeaders
		info.RequestHeaderGroupHeaders = rh.GroupHeaders
		info.RequestHeaderExtraHeaderPrefixes = rh.ExtraHeaderPrefixes
	}
	return func(ctx genericapiserver.PostStartHookContext) error {
		controller := clusterauthenticationtrust.NewClusterAuthenticationTrustController(info, client)
		for _, ca := range []dynamiccertificates.CAContentProvider{info.ClientCA, info.RequestHeaderCA} {
			if ca == nil {
				continue
			}
			ca.AddListener(controller)
			if runner, ok := ca.(dynamiccertificates.ControllerRunner); ok {
				if err := runner.RunOnce(ctx); err != nil {
					runtime.HandleError(err)
				}
				go runner.Run(ctx, 1)
			}
		}
		go controller.Run(ctx, 1)
		return nil
	}
}

// apiServicePriorities orders the groups skiff serves in discovery, and
// are the group versions the aggregator registers local APIServices for:
// Kubernetes' own values for its groups (kube-apiserver's table), and for
// the metrics APIs, which skiff serves itself, the values metrics-server
// and prometheus-adapter give their APIServices.
func apiServicePriorities() map[schema.GroupVersion]controlplaneapiserver.APIServicePriority {
	p := controlplaneapiserver.DefaultGenericAPIServicePriorities()
	type prio = controlplaneapiserver.APIServicePriority
	for gv, v := range map[schema.GroupVersion]prio{
		{Group: "apps", Version: "v1"}:              {Group: 17800, Version: 15},
		{Group: "autoscaling", Version: "v1"}:       {Group: 17500, Version: 15},
		{Group: "autoscaling", Version: "v2"}:       {Group: 17500, Version: 30},
		{Group: "batch", Version: "v1"}:             {Group: 17400, Version: 15},
		{Group: "networking.k8s.io", Version: "v1"}: {Group: 17200, Version: 15},
		{Group: "policy", Version: "v1"}:            {Group: 17100, Version: 15},
		{Group: "storage.k8s.io", Version: "v1"}:    {Group: 16800, Version: 15},
		{Group: "scheduling.k8s.io", Version: "v1"}: {Group: 16600, Version: 15},
		{Group: "node.k8s.io", Version: "v1"}:       {Group: 16300, Version: 15},
	} {
		p[gv] = v
	}
	for _, gv := range resourceapi.GroupVersions {
		p[gv] = prio{Group: 100, Version: 100}
	}
	p[schema.GroupVersion{Group: customapi.Group, Version: customapi.Version}] = prio{Group: 100, Version: 200}
	p[schema.GroupVersion{Group: customapi.ExternalGroup, Version: customapi.ExternalVersion}] = prio{Group: 100, Version: 100}
	return p
}
