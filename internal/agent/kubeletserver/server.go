package kubeletserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/component-base/metrics/legacyregistry"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff.dev/skiff/internal/agent/runtime"
)

// APIServerUser is the common name the API server's client certificate
// must carry.
const APIServerUser = "kube-apiserver-kubelet-client"

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
	// ClientCA verifies callers' client certificates.
	ClientCA *x509.CertPool
	// CertDir holds the serving certificate (kubelet.crt, kubelet.key),
	// made on first start.
	CertDir string
	// Hosts are the IPs and names the serving certificate is for.
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
	if cfg.ClientCA == nil {
		return nil, errors.New("kubelet server: ClientCA is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cert, err := servingCert(cfg.CertDir, cfg.Hosts)
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
			// without the right one gets a Status rather than a failed
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

// Handler is the server's routes behind the client certificate check
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
	mux.Handle("GET /metrics", s.metricsReader(legacyregistry.Handler()))
	mux.Handle("GET /containerLogs/{namespace}/{pod}/{container}", s.authenticated(http.HandlerFunc(s.containerLogs)))
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		mux.Handle(method+" /exec/{namespace}/{pod}/{container}", s.authenticated(http.HandlerFunc(s.exec)))
		mux.Handle(method+" /exec/{namespace}/{pod}/{uid}/{container}", s.authenticated(http.HandlerFunc(s.exec)))
		mux.Handle(method+" /attach/{namespace}/{pod}/{container}", s.authenticated(http.HandlerFunc(s.attach)))
		mux.Handle(method+" /attach/{namespace}/{pod}/{uid}/{container}", s.authenticated(http.HandlerFunc(s.attach)))
		mux.Handle(method+" /portForward/{namespace}/{pod}", s.authenticated(http.HandlerFunc(s.portForward)))
		mux.Handle(method+" /portForward/{namespace}/{pod}/{uid}", s.authenticated(http.HandlerFunc(s.portForward)))
	}
	if s.cfg.Stats != nil {
		addStatsRoutes(mux, s.authenticated, func(*http.Request) StatsProvider { return s.cfg.Stats }, s.log)
	}
	return mux
}

// authenticated lets through requests whose client certificate chains to
// the cluster CA (401 otherwise) and names the API server (403 otherwise).
func (s *Server) authenticated(next http.Handler) http.Handler {
	return authorize(s.cfg.ClientCA, s.log, isAPIServer, next)
}

// metricsReader is authenticated for /metrics, which the cluster's
// administrators (group system:masters, such as the admin kubeconfig's
// certificate) may read as well, as Kubernetes' RBAC lets them read
// nodes/metrics: a Prometheus scrape with the admin certificate. Other
// nodes' certificates are refused (403).
func (s *Server) metricsReader(next http.Handler) http.Handler {
	return authorize(s.cfg.ClientCA, s.log, func(c *x509.Certificate) bool {
		return isAPIServer(c) || slices.Contains(c.Subject.Organization, user.SystemPrivilegedGroup)
	}, next)
}

func isAPIServer(c *x509.Certificate) bool { return c.Subject.CommonName == APIServerUser }

// authenticate lets through requests whose client certificate chains to ca
// (401 otherwise) and names the API server (403 otherwise).
func authenticate(ca *x509.CertPool, log *slog.Logger, next http.Handler) http.Handler {
	return authorize(ca, log, isAPIServer, next)
}

// authorize lets through requests whose client certificate chains to ca
// (401 otherwise) and that allow accepts (403 otherwise).
func authorize(ca *x509.CertPool, log *slog.Logger, allow func(*x509.Certificate) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			writeStatus(w, unauthorized("no client certificate"))
			return
		}
		certs := r.TLS.PeerCertificates
		opts := x509.VerifyOptions{
			Roots:         ca,
			Intermediates: x509.NewCertPool(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		for _, c := range certs[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := certs[0].Verify(opts); err != nil {
			log.Debug("kubelet server: client certificate refused", "subject", certs[0].Subject.String(), "err", err)
			writeStatus(w, unauthorized("client certificate not signed by the cluster CA"))
			return
		}
		if !allow(certs[0]) {
			writeStatus(w, forbidden(certs[0].Subject.CommonName, r))
			return
		}
		next.ServeHTTP(w, r)
	})
}
