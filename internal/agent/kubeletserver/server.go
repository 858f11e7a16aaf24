package kubeletserver

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-base/metrics/legacyregistry"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff.dev/skiff/internal/agent/runtime"
	"skiff.dev/skiff/internal/wellknown"
)

// APIServerUser is the common name of the API server's kubelet client
// certificate.
const APIServerUser = wellknown.KubeletClientCommonName

// ContainerRef names a container for the server: its runtime ID and the
// path of its CRI log file.
type ContainerRef struct {
	ID      string
	LogPath string
}

// PodSource finds the containers and sandboxes of the pods on this node.
// Its errors should be apierrors values (NotFound, BadRequest): the server
// answers with their code and message as a Kubernetes Status.
type PodSource interface {
	// Container returns the current container of that name of the pod, or
	// with previous the last terminated one before it.
	Container(namespace, pod, container string, previous bool) (ContainerRef, error)
	// Sandbox returns the ID of the pod's sandbox.
	Sandbox(namespace, pod string) (string, error)
	// List returns the pods bound to this node.
	List() ([]*corev1.Pod, error)
}

// Runtime is what the server needs of the container runtime: its
// streaming server for exec, attach and port-forward, and a container's
// state to stop following its log when it exits.
type Runtime interface {
	runtime.StreamingRuntime
	ContainerStatus(ctx context.Context, containerID string, verbose bool) (*runtimeapi.ContainerStatusResponse, error)
}

// Config configures a Server.
type Config struct {
	// Addr is the host:port to listen on ("127.0.0.1:0" picks a port).
	Addr string
	// Runtime serves exec, attach, port-forward and container status.
	Runtime Runtime
	// Pods resolves the names in request paths.
	Pods PodSource
	// Auth authenticates and authorizes every request (NewAuth).
	Auth Auth
	// NodeName is the node whose subresources requests are authorized as.
	NodeName string
	// CertFile and KeyFile are the serving certificate, signed by the
	// cluster CA at join. Without them the server serves a self-signed
	// certificate it keeps in CertDir (kubelet.crt, kubelet.key) for Hosts,
	// as the kubelet without --tls-cert-file; the API server refuses it.
	CertFile, KeyFile string
	CertDir           string
	// Hosts are the IPs and names a self-signed certificate is for.
	Hosts []string
	// Stats, when set, serves /stats/summary and /metrics/resource.
	Stats StatsProvider
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Server is the agent's HTTPS server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	listener net.Listener
	srv      *http.Server
}

// New prepares the serving certificate and listens on cfg.Addr; Run serves.
func New(cfg Config) (*Server, error) {
	if cfg.Runtime == nil || cfg.Pods == nil {
		return nil, errors.New("kubelet server: Runtime and Pods are required")
	}
	if cfg.Auth.Authenticator == nil || cfg.Auth.Authorizer == nil {
		return nil, errors.New("kubelet server: Auth is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var cert tls.Certificate
	var err error
	if cfg.CertFile != "" {
		cert, err = tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	} else {
		cfg.Logger.Warn("the kubelet server has no certificate signed by the cluster CA: serving a self-signed one, which the API server refuses")
		cert, err = servingCert(cfg.CertDir, cfg.Hosts)
	}
	if err != nil {
		return nil, fmt.Errorf("kubelet server certificate: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			// Certificates are checked by the handler, so that a caller
			// without the right one gets a 401 rather than a failed
			// handshake.
			ClientAuth: tls.RequestClientCert,
			MinVersion: tls.VersionTLS12,
			NextProtos: []string{"http/1.1"},
		},
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("kubelet server listen: %w", err)
	}
	s.listener = l
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Run serves until ctx ends, then shuts the server down; streams still open
// after a few seconds are cut.
func (s *Server) Run(ctx context.Context) error {
	s.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(tls.NewListener(s.listener, s.srv.TLSConfig)) }()
	s.log.Info("kubelet server listening", "addr", s.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("kubelet server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(shutdownCtx); err != nil {
		_ = s.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("kubelet server: %w", err)
	}
	return nil
}

// Close releases the listener of a server that will not Run.
func (s *Server) Close() error { return s.listener.Close() }

// Handler is the server's routes behind authentication and authorization
// (without TLS: tests and embedders that terminate TLS themselves must put
// the peer certificates in the request's TLS state).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	// The process's component-base registry, where the agent's components
	// (kubelet, service proxy) register their metrics.
	mux.Handle("GET /metrics", legacyregistry.Handler())
	mux.HandleFunc("GET /pods", s.pods)
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		mux.HandleFunc(method+" /exec/{namespace}/{pod}/{container}", s.exec)
		mux.HandleFunc(method+" /exec/{namespace}/{pod}/{uid}/{container}", s.exec)
		mux.HandleFunc(method+" /attach/{namespace}/{pod}/{container}", s.attach)
		mux.HandleFunc(method+" /attach/{namespace}/{pod}/{uid}/{container}", s.attach)
		mux.HandleFunc(method+" /portForward/{namespace}/{pod}", s.portForward)
		mux.HandleFunc(method+" /portForward/{namespace}/{pod}/{uid}", s.portForward)
	}
	if s.cfg.Stats != nil {
		addStatsRoutes(mux, func(*http.Request) StatsProvider { return s.cfg.Stats }, s.log)
	}
	return withAuth(s.cfg.Auth, func(*http.Request) string { return s.cfg.NodeName }, s.log, mux)
}

// pods serves GET /pods: the pods bound to this node, as a v1 PodList.
func (s *Server) pods(w http.ResponseWriter, _ *http.Request) {
	pods, err := s.cfg.Pods.List()
	if err != nil {
		writeStatus(w, err)
		return
	}
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: make([]corev1.Pod, 0, len(pods))}
	for _, p := range pods {
		list.Items = append(list.Items, *p)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&list)
}
