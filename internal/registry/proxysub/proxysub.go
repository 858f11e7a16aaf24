// Package proxysub serves the proxy subresources of the core API:
// services/proxy, pods/proxy and nodes/proxy. Each forwards any HTTP request
// (and upgrades) under .../proxy/PATH to PATH on a backend, as kube-apiserver
// does: one ready endpoint of the Service, the pod's IP, or the node's kubelet
// server. This is what `kubectl get --raw .../services/NAME:PORT/proxy/...`
// and `kubectl proxy` users reach.
//
// Deciding where a request goes (the *Location functions) is pure and apart
// from the REST plumbing that fetches the objects and proxies.
package proxysub

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	upgradeproxy "k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/apiserver/pkg/registry/rest"

	"skiff.dev/skiff/internal/registry/podsub"
)

// Config is what the proxy subresources read and how they reach backends.
type Config struct {
	// Services, Endpoints and Pods read the namespaced objects (the request's
	// namespace is in the context); Nodes reads nodes. A nil getter leaves
	// its subresource out.
	Services, Endpoints, Pods, Nodes rest.Getter
	// Transport reaches Service endpoints and pods, and node ports other
	// than the kubelet's; nil means DefaultTransport().
	Transport http.RoundTripper
	// KubeletTransport reaches the kubelet servers (HTTPS with the API
	// server's kubelet client certificate, see podsub.KubeletTransport);
	// nil makes nodes/proxy to the kubelet port answer 503.
	KubeletTransport http.RoundTripper
}

// DefaultTransport is the transport to Service endpoints and pods: plain
// HTTP, or HTTPS for an https: scheme prefix without verifying the
// backend's certificate, as kube-apiserver's proxy transport.
func DefaultTransport() http.RoundTripper {
	return utilnet.SetTransportDefaults(&http.Transport{
		DialContext: (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // as kube-apiserver's proxy transport
			MinVersion:         tls.VersionTLS12,
		},
	})
}

// Storage returns the proxy subresources keyed by path.
func Storage(cfg Config) map[string]rest.Storage {
	if cfg.Transport == nil {
		cfg.Transport = DefaultTransport()
	}
	m := map[string]rest.Storage{}
	if cfg.Services != nil && cfg.Endpoints != nil {
		m["services/proxy"] = &ServiceProxyREST{cfg: cfg, pick: rand.IntN}
	}
	if cfg.Pods != nil {
		m["pods/proxy"] = &PodProxyREST{cfg: cfg}
	}
	if cfg.Nodes != nil {
		m["nodes/proxy"] = &NodeProxyREST{cfg: cfg}
	}
	return m
}

// proxyMethods are the HTTP verbs the proxy subresources forward, as in
// Kubernetes.
var proxyMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// handler proxies to loc + path with transport, keeping the request's
// method, body, query and upgrade.
func handler(loc *url.URL, path string, transport http.RoundTripper, responder rest.Responder) http.Handler {
	loc.Path = utilnet.JoinPreservingTrailingSlash(loc.Path, path)
	return upgradeproxy.NewUpgradeAwareHandler(loc, transport, true, false, upgradeproxy.NewErrorResponder(responder))
}

func get[T runtime.Object](ctx context.Context, g rest.Getter, name string) (T, error) {
	var zero T
	obj, err := g.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return zero, err
	}
	t, ok := obj.(T)
	if !ok {
		return zero, fmt.Errorf("unexpected object for %s: %T", name, obj)
	}
	return t, nil
}

// ServiceProxyREST serves services/proxy: a request forwarded to one ready
// endpoint of the Service.
type ServiceProxyREST struct {
	cfg  Config
	pick func(n int) int // a random index below n
}

var _ rest.Connecter = &ServiceProxyREST{}

// New implements rest.Storage.
func (r *ServiceProxyREST) New() runtime.Object { return &corev1.ServiceProxyOptions{} }

// Destroy implements rest.Storage.
func (r *ServiceProxyREST) Destroy() {}

// NewConnectOptions implements rest.Connecter: the rest of the URL is the
// options' path.
func (r *ServiceProxyREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.ServiceProxyOptions{}, true, "path"
}

// ConnectMethods implements rest.Connecter.
func (r *ServiceProxyREST) ConnectMethods() []string { return proxyMethods }

// Connect proxies to a ready endpoint of the Service named by id
// ("name", "name:port" or "scheme:name:port", port a number or a name).
func (r *ServiceProxyREST) Connect(ctx context.Context, id string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	proxyOpts, ok := opts.(*corev1.ServiceProxyOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %T", opts)
	}
	scheme, name, port, valid := utilnet.SplitSchemeNamePort(id)
	if !valid {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid service request %q", id))
	}
	svc, err := get[*corev1.Service](ctx, r.cfg.Services, name)
	if err != nil {
		return nil, err
	}
	eps, err := get[*corev1.Endpoints](ctx, r.cfg.Endpoints, name)
	if apierrors.IsNotFound(err) {
		// No Endpoints written (yet) is no endpoint: ServiceLocation says so.
		eps, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if r.cfg.Pods != nil && eps != nil {
		eps = r.withValidAddresses(ctx, eps)
	}
	loc, err := ServiceLocation(svc, eps, scheme, port, r.pick)
	if err != nil {
		return nil, err
	}
	return handler(loc, proxyOpts.Path, r.cfg.Transport, responder), nil
}

// withValidAddresses drops the ready addresses that name a pod which does
// not exist or no longer has that IP (a stale Endpoints object), as
// Kubernetes does before proxying.
func (r *ServiceProxyREST) withValidAddresses(ctx context.Context, eps *corev1.Endpoints) *corev1.Endpoints {
	out := eps.DeepCopy()
	for i := range out.Subsets {
		ss := &out.Subsets[i]
		kept := ss.Addresses[:0]
		for _, a := range ss.Addresses {
			if a.TargetRef == nil || a.TargetRef.Kind != "Pod" {
				kept = append(kept, a)
				continue
			}
			pod, err := get[*corev1.Pod](ctx, r.cfg.Pods, a.TargetRef.Name)
			if err != nil {
				continue
			}
			for _, ip := range pod.Status.PodIPs {
				if ip.IP == a.IP {
					kept = append(kept, a)
					break
				}
			}
		}
		ss.Addresses = kept
	}
	return out
}

// PodProxyREST serves pods/proxy: a request forwarded to the pod's IP.
type PodProxyREST struct {
	cfg Config
}

var _ rest.Connecter = &PodProxyREST{}

// New implements rest.Storage.
func (r *PodProxyREST) New() runtime.Object { return &corev1.PodProxyOptions{} }

// Destroy implements rest.Storage.
func (r *PodProxyREST) Destroy() {}

// NewConnectOptions implements rest.Connecter.
func (r *PodProxyREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodProxyOptions{}, true, "path"
}

// ConnectMethods implements rest.Connecter.
func (r *PodProxyREST) ConnectMethods() []string { return proxyMethods }

// Connect proxies to the pod named by id ("name", "name:port" or
// "scheme:name:port").
func (r *PodProxyREST) Connect(ctx context.Context, id string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	proxyOpts, ok := opts.(*corev1.PodProxyOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %T", opts)
	}
	scheme, name, port, valid := utilnet.SplitSchemeNamePort(id)
	if !valid {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid pod request %q", id))
	}
	pod, err := get[*corev1.Pod](ctx, r.cfg.Pods, name)
	if err != nil {
		return nil, err
	}
	loc, err := PodLocation(pod, scheme, port)
	if err != nil {
		return nil, err
	}
	return handler(loc, proxyOpts.Path, r.cfg.Transport, responder), nil
}

// NodeProxyREST serves nodes/proxy: a request forwarded to the node's
// kubelet server, or to another port on the node's address.
type NodeProxyREST struct {
	cfg Config
}

var _ rest.Connecter = &NodeProxyREST{}

// New implements rest.Storage.
func (r *NodeProxyREST) New() runtime.Object { return &corev1.NodeProxyOptions{} }

// Destroy implements rest.Storage.
func (r *NodeProxyREST) Destroy() {}

// NewConnectOptions implements rest.Connecter.
func (r *NodeProxyREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.NodeProxyOptions{}, true, "path"
}

// ConnectMethods implements rest.Connecter.
func (r *NodeProxyREST) ConnectMethods() []string { return proxyMethods }

// Connect proxies to the node named by id ("name", "name:port" or
// "scheme:name:port"): to its kubelet server over HTTPS with the kubelet
// client certificate when no port or the kubelet's port is named,
// otherwise to that port with the plain proxy transport.
func (r *NodeProxyREST) Connect(ctx context.Context, id string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	proxyOpts, ok := opts.(*corev1.NodeProxyOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %T", opts)
	}
	scheme, name, port, valid := utilnet.SplitSchemeNamePort(id)
	if !valid {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid node request %q", id))
	}
	kubelet, err := podsub.KubeletHost(ctx, r.cfg.Nodes, name)
	if err != nil {
		return nil, err
	}
	loc, toKubelet, err := NodeLocation(kubelet, scheme, port)
	if err != nil {
		return nil, err
	}
	transport := r.cfg.Transport
	if toKubelet {
		if r.cfg.KubeletTransport == nil {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s: this API server has no client for node agents", name))
		}
		transport = r.cfg.KubeletTransport
	}
	return handler(loc, proxyOpts.Path, transport, responder), nil
}
