package podsub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	upgradeproxy "k8s.io/apimachinery/pkg/util/proxy"
	genericrest "k8s.io/apiserver/pkg/registry/generic/rest"
	"k8s.io/apiserver/pkg/registry/rest"
	translator "k8s.io/apiserver/pkg/util/proxy"
)

// KubeletTransport returns the transport to the node agents' kubelet
// servers: HTTPS with the API server's client certificate (certFile and
// keyFile, CommonName kube-apiserver-kubelet-client), verifying the
// kubelet's serving certificate against the CA in caFile (the cluster CA,
// which signs it at join), as kube-apiserver with
// --kubelet-certificate-authority. With caFile "" the serving certificate
// is not verified, as kube-apiserver without that flag: the transport of
// pods/log's insecureSkipTLSVerifyBackend.
func KubeletTransport(certFile, keyFile, caFile string) (http.RoundTripper, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("kubelet client certificate: %w", err)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile == "" {
		tlsConfig.InsecureSkipVerify = true //nolint:gosec // as kube-apiserver without --kubelet-certificate-authority
	} else {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("kubelet certificate authority: %w", err)
		}
		tlsConfig.RootCAs = x509.NewCertPool()
		if !tlsConfig.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kubelet certificate authority %s: no certificate", caFile)
		}
	}
	return utilnet.SetTransportDefaults(&http.Transport{
		DialContext:     (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig: tlsConfig,
	}), nil
}

// kubelet builds the URLs of a pod's streams on its node's kubelet server.
type kubelet struct {
	loc       locator
	transport http.RoundTripper
	// insecure does not verify the kubelet's serving certificate (nil:
	// transport).
	insecure http.RoundTripper
}

// location returns the URL of path on the kubelet server of the pod's node.
func (k kubelet) location(ctx context.Context, pod *corev1.Pod, path string, query url.Values) (*url.URL, error) {
	if k.transport == nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("pod %s: this API server has no client for node agents", pod.Name))
	}
	host, err := k.loc.kubeletHost(ctx, pod.Spec.NodeName)
	if err != nil {
		return nil, err
	}
	return &url.URL{Scheme: "https", Host: host, Path: path, RawQuery: query.Encode()}, nil
}

// streamLocation is the URL of exec or attach (what) for the pod's
// container.
func (k kubelet) streamLocation(ctx context.Context, name, container, what string, query url.Values) (*url.URL, error) {
	pod, err := k.loc.pod(ctx, name)
	if err != nil {
		return nil, err
	}
	container, err = streamContainer(pod, container)
	if err != nil {
		return nil, err
	}
	if pod.Spec.NodeName == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
	}
	return k.location(ctx, pod, fmt.Sprintf("/%s/%s/%s/%s", what, pod.Namespace, pod.Name, container), query)
}

// upgradeProxy proxies an upgrade (SPDY) request to loc.
func (k kubelet) upgradeProxy(loc *url.URL, responder rest.Responder) http.Handler {
	return upgradeproxy.NewUpgradeAwareHandler(loc, k.transport, false, true, upgradeproxy.NewErrorResponder(responder))
}

// LogREST serves pods/log: the kubelet's log stream of a container.
type LogREST struct {
	kubelet kubelet
}

var (
	_ rest.GetterWithOptions = &LogREST{}
	_ rest.StorageMetadata   = &LogREST{}
)

// New implements rest.Storage.
func (r *LogREST) New() runtime.Object { return &corev1.Pod{} }

// Destroy implements rest.Storage.
func (r *LogREST) Destroy() {}

// ProducesMIMETypes implements rest.StorageMetadata.
func (r *LogREST) ProducesMIMETypes(string) []string {
	return []string{"text/plain"}
}

// ProducesObject implements rest.StorageMetadata.
func (r *LogREST) ProducesObject(string) interface{} { return "" }

// NewGetOptions implements rest.GetterWithOptions.
func (r *LogREST) NewGetOptions() (runtime.Object, bool, string) {
	return &corev1.PodLogOptions{}, false, ""
}

// Get returns a stream of the container's log from its node's kubelet
// server. A pod not on a node yet has an empty log, as in Kubernetes.
func (r *LogREST) Get(ctx context.Context, name string, opts runtime.Object) (runtime.Object, error) {
	logOpts, ok := opts.(*corev1.PodLogOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %T", opts)
	}
	if errs := validateLogOptions(logOpts); len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, name, errs)
	}
	pod, err := r.kubelet.loc.pod(ctx, name)
	if err != nil {
		return nil, err
	}
	container, err := logContainer(pod, logOpts.Container)
	if err != nil {
		return nil, err
	}
	if pod.Spec.NodeName == "" {
		return &genericrest.LocationStreamer{}, nil
	}
	if err := checkLogStatus(pod, container, logOpts.Previous); err != nil {
		return nil, err
	}
	loc, err := r.kubelet.location(ctx, pod, fmt.Sprintf("/containerLogs/%s/%s/%s", pod.Namespace, pod.Name, container), logQuery(logOpts))
	if err != nil {
		return nil, err
	}
	transport := r.kubelet.transport
	if logOpts.InsecureSkipTLSVerifyBackend && r.kubelet.insecure != nil {
		// As Kubernetes: the user asked to read the log of a kubelet
		// whose serving certificate is not verifiable.
		transport = r.kubelet.insecure
	}
	return &genericrest.LocationStreamer{
		Location:        loc,
		Transport:       transport,
		ContentType:     "text/plain",
		Flush:           logOpts.Follow,
		ResponseChecker: genericrest.NewGenericHttpResponseChecker(corev1.Resource("pods/log"), name),
		RedirectChecker: genericrest.PreventRedirects,
	}, nil
}

// ExecREST serves pods/exec: a command in a container, its stdio streamed
// through the kubelet server over SPDY or WebSocket.
type ExecREST struct {
	kubelet kubelet
}

var _ rest.Connecter = &ExecREST{}

// New implements rest.Storage.
func (r *ExecREST) New() runtime.Object { return &corev1.PodExecOptions{} }

// Destroy implements rest.Storage.
func (r *ExecREST) Destroy() {}

// NewConnectOptions implements rest.Connecter.
func (r *ExecREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodExecOptions{}, false, ""
}

// ConnectMethods implements rest.Connecter.
func (r *ExecREST) ConnectMethods() []string { return []string{"GET", "POST"} }

// Connect proxies the upgrade to the kubelet's /exec; a WebSocket v5
// request is translated into SPDY toward the kubelet.
func (r *ExecREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	execOpts, ok := opts.(*corev1.PodExecOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %T", opts)
	}
	query := streamQuery(execOpts.Stdin, execOpts.Stdout, execOpts.Stderr, execOpts.TTY)
	for _, c := range execOpts.Command {
		query.Add("command", c)
	}
	loc, err := r.kubelet.streamLocation(ctx, name, execOpts.Container, "exec", query)
	if err != nil {
		return nil, err
	}
	return r.kubelet.translatingProxy(loc, responder, translator.Options{
		Stdin: execOpts.Stdin, Stdout: execOpts.Stdout, Stderr: execOpts.Stderr, Tty: execOpts.TTY,
	}), nil
}

// translatingProxy is the upgrade proxy to loc, with WebSocket v5 requests
// (current kubectl) translated to SPDY.
func (k kubelet) translatingProxy(loc *url.URL, responder rest.Responder, opts translator.Options) http.Handler {
	return translator.NewTranslatingHandler(k.upgradeProxy(loc, responder),
		translator.NewStreamTranslatorHandler(loc, k.transport, 0, opts),
		wsstream.IsWebSocketRequestWithStreamCloseProtocol)
}

// AttachREST serves pods/attach: the stdio of a running container.
type AttachREST struct {
	kubelet kubelet
}

var _ rest.Connecter = &AttachREST{}

// New implements rest.Storage.
func (r *AttachREST) New() runtime.Object { return &corev1.PodAttachOptions{} }

// Destroy implements rest.Storage.
func (r *AttachREST) Destroy() {}

// NewConnectOptions implements rest.Connecter.
func (r *AttachREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodAttachOptions{}, false, ""
}

// ConnectMethods implements rest.Connecter.
func (r *AttachREST) ConnectMethods() []string { return []string{"GET", "POST"} }

// Connect proxies the upgrade to the kubelet's /attach, as Exec does.
func (r *AttachREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	attachOpts, ok := opts.(*corev1.PodAttachOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %T", opts)
	}
	query := streamQuery(attachOpts.Stdin, attachOpts.Stdout, attachOpts.Stderr, attachOpts.TTY)
	loc, err := r.kubelet.streamLocation(ctx, name, attachOpts.Container, "attach", query)
	if err != nil {
		return nil, err
	}
	return r.kubelet.translatingProxy(loc, responder, translator.Options{
		Stdin: attachOpts.Stdin, Stdout: attachOpts.Stdout, Stderr: attachOpts.Stderr, Tty: attachOpts.TTY,
	}), nil
}

// PortForwardREST serves pods/portforward: TCP streams to the pod's ports.
type PortForwardREST struct {
	kubelet kubelet
}

var _ rest.Connecter = &PortForwardREST{}

// New implements rest.Storage.
func (r *PortForwardREST) New() runtime.Object { return &corev1.PodPortForwardOptions{} }

// Destroy implements rest.Storage.
func (r *PortForwardREST) Destroy() {}

// NewConnectOptions implements rest.Connecter.
func (r *PortForwardREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodPortForwardOptions{}, false, ""
}

// ConnectMethods implements rest.Connecter.
func (r *PortForwardREST) ConnectMethods() []string { return []string{"GET", "POST"} }

// Connect proxies the SPDY upgrade to the kubelet's /portForward; SPDY
// tunnelled in WebSocket (current kubectl) is unwrapped on the way.
func (r *PortForwardREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	pfOpts, ok := opts.(*corev1.PodPortForwardOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %T", opts)
	}
	pod, err := r.kubelet.loc.pod(ctx, name)
	if err != nil {
		return nil, err
	}
	if pod.Spec.NodeName == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
	}
	loc, err := r.kubelet.location(ctx, pod, fmt.Sprintf("/portForward/%s/%s", pod.Namespace, pod.Name), portForwardQuery(pfOpts))
	if err != nil {
		return nil, err
	}
	handler := r.kubelet.upgradeProxy(loc, responder)
	return translator.NewTranslatingHandler(handler, translator.NewTunnelingHandler(handler),
		wsstream.IsWebSocketRequestWithTunnelingProtocol), nil
}
