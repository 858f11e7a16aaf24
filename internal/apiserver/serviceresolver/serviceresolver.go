// Package serviceresolver turns a Service reference (namespace, name,
// port), as admission webhooks and APIServices name their backends, into
// the address of one ready endpoint of that Service, read from its
// EndpointSlices: kube-apiserver's --enable-aggregator-routing. The API
// server then dials the pod itself, so it needs no service network
// (ClusterIP routing) on its own host, which hollow nodes and a server on
// a laptop do not have. The kubernetes Service in default, port 443, is
// the API server itself and resolves to its loopback address.
//
// The consumers (k8s.io/apiserver's webhook client, k8s.io/kube-aggregator's
// proxy) declare the interface; Resolver satisfies both.
package serviceresolver

import (
	"net/url"

	"k8s.io/apiserver/pkg/util/proxy"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
)

// Resolver resolves Service references to endpoint URLs.
type Resolver struct {
	// Services and EndpointSlices read the Service and its endpoints.
	Services       listerscorev1.ServiceLister
	EndpointSlices proxy.EndpointSliceGetter
	// Loopback, when set, is the API server's own URL, answered for the
	// kubernetes Service in default on port 443.
	Loopback *url.URL
}

// ResolveEndpoint returns https://IP:port of a ready endpoint of the
// Service's port numbered port (a random one when there are several), or
// a ServiceUnavailable error when there is none.
func (r *Resolver) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	if r.Loopback != nil && IsAPIServer(namespace, name, port) {
		u := *r.Loopback
		return &u, nil
	}
	return proxy.ResolveEndpoint(r.Services, r.EndpointSlices, namespace, name, port)
}

// IsAPIServer reports whether the reference names the API server's own
// Service (default/kubernetes:443).
func IsAPIServer(namespace, name string, port int32) bool {
	return namespace == "default" && name == "kubernetes" && port == 443
}
