// Package api starts the API half of `skiff server`: it prepares the data
// directory (certificates, admin kubeconfig, join token), starts or connects
// to etcd, serves the Kubernetes API and creates the objects every cluster
// has. internal/server runs the components beside it; integration tests
// (internal/testserver) run it alone.
package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/encryption"
	"skiff.dev/skiff/internal/join"
	"skiff.dev/skiff/internal/metrics"
	"skiff.dev/skiff/internal/metrics/custom"
	"skiff.dev/skiff/internal/metrics/resource"
	"skiff.dev/skiff/internal/pki"
	"skiff.dev/skiff/internal/registry/servicealloc"
	"skiff.dev/skiff/internal/serviceaccount"
	"skiff.dev/skiff/internal/storage/etcd"
	"skiff.dev/skiff/internal/wellknown"
)

// Config is the configuration of the API server and its storage.
type Config struct {
	// DataDir holds etcd's data, the certificates and the kubeconfig.
	DataDir string
	// AuthorizationOptions choose the API server's authorizers.
	apiserver.AuthorizationOptions
	// BindAddress and Port are where the API is served (HTTPS).
	BindAddress net.IP
	Port        int
	// Listener, when set, is where the API is served instead of BindAddress
	// and Port (Port becomes its port): a caller that listened on port 0
	// keeps the port it was given, with no window for another process to
	// take it (tests).
	Listener net.Listener
	// AdvertiseAddress is the address written into the kubeconfig; defaults
	// to 127.0.0.1.
	AdvertiseAddress string
	// Etcd selects an external etcd cluster (and the certificates it
	// wants); no Endpoints embeds one.
	Etcd etcd.ClientConfig
	// EncryptionProviderConfig is the EncryptionConfiguration file the API
	// server encrypts resources in etcd with, reloading it when it changes;
	// empty means encryption.ConfigPath(DataDir), written on first start
	// (Secrets under a new aescbc key).
	EncryptionProviderConfig string
	// ServiceCIDR is the range of Service ClusterIPs.
	ServiceCIDR netip.Prefix
	// NodePortMin and NodePortMax bound the NodePorts.
	NodePortMin, NodePortMax int
	// ClusterDNS is the ClusterIP of the cluster DNS Service kube-system/
	// kube-dns, created at start (default: the tenth address of
	// ServiceCIDR, 10.43.0.10). ClusterDNSPort is its targetPort, the port
	// the DNS server listens on (default 53).
	ClusterDNS     netip.Addr
	ClusterDNSPort int
	// UnsafeNoFsync makes the embedded etcd skip fsync (tests only).
	UnsafeNoFsync bool
	// DefaultNotReadyTolerationSeconds and DefaultUnreachableTolerationSeconds
	// are how long new pods stay on a not-ready or unreachable node (300).
	DefaultNotReadyTolerationSeconds, DefaultUnreachableTolerationSeconds int64
	Logger                                                                *slog.Logger
	// ServiceRepairInterval and ServiceRepairGrace configure the repair loop
	// of the ClusterIP and NodePort records (servicealloc.RepairOptions;
	// zero means 3 minutes and 1 minute).
	ServiceRepairInterval, ServiceRepairGrace time.Duration
	// ProxyTransport reaches Service endpoints and pods for services/proxy
	// and pods/proxy; nil is the default (tests point it at loopback).
	ProxyTransport http.RoundTripper
	// Audit is the audit log (--audit-policy-file, --audit-log-path).
	Audit apiserver.AuditConfig
	// Metrics configures the scraping of nodes and pods and the metrics
	// APIs served from it.
	Metrics metrics.Options
	// ServiceAccounts configures service account tokens (kube-apiserver's
	// --service-account-* and --api-audiences flags); the signing key
	// defaults to one created in the data dir.
	ServiceAccounts serviceaccount.Options
	// DisableAdmissionPlugins names admission plugins not to run
	// (apiserver.Config's).
	DisableAdmissionPlugins []string
}

// KubeletClientCommonName is the CommonName of the API server's client
// certificate toward the node agents' kubelet servers, in no group: RBAC
// grants it system:kubelet-api-admin, as Kubernetes does.
const KubeletClientCommonName = wellknown.KubeletClientCommonName

// KubeconfigPath is where the admin kubeconfig is written in a data dir.
func KubeconfigPath(dataDir string) string {
	return filepath.Join(dataDir, "kubeconfig.yaml")
}

// EtcdDataDir is where the embedded etcd keeps its data in a data dir.
func EtcdDataDir(dataDir string) string { return filepath.Join(dataDir, "etcd") }

// EtcdClientCommonName is the CommonName of the API server's client
// certificate toward the embedded etcd, which accepts no other.
const EtcdClientCommonName = "kube-apiserver-etcd-client"

// etcdServerCommonName is the embedded etcd's serving certificate's.
const etcdServerCommonName = "etcd-server"

// etcdTLSFiles are the embedded etcd's serving certificate (for clients and
// peers) and the API server's client certificate toward it, in a data dir.
type etcdTLSFiles struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

func etcdTLS(dataDir string) etcdTLSFiles {
	dir := filepath.Join(dataDir, "tls")
	return etcdTLSFiles{
		ca:         filepath.Join(dir, "ca.crt"),
		serverCert: filepath.Join(dir, "etcd-server.crt"), serverKey: filepath.Join(dir, "etcd-server.key"),
		clientCert: filepath.Join(dir, "etcd-client.crt"), clientKey: filepath.Join(dir, "etcd-client.key"),
	}
}

// client reaches the embedded etcd at endpoint.
func (f etcdTLSFiles) client(endpoint string) etcd.ClientConfig {
	return etcd.ClientConfig{Endpoints: []string{endpoint}, CAFile: f.ca, CertFile: f.clientCert, KeyFile: f.clientKey}
}

// EmbeddedEtcd is how a tool beside the server (skiff secrets-encrypt)
// reaches the embedded etcd of the server whose data dir is dataDir: with
// the server's client certificate, so only who may read the data dir can.
func EmbeddedEtcd(dataDir string) (etcd.ClientConfig, error) {
	u, err := etcd.SavedClientURL(EtcdDataDir(dataDir))
	if err != nil {
		return etcd.ClientConfig{}, err
	}
	return etcdTLS(dataDir).client(u), nil
}

// Server is a started API server.
type Server struct {
	// Loopback is a client configuration of full rights over the API.
	Loopback *rest.Config
	// URL is where clients reach the API (the kubeconfig's server).
	URL string
	// Token is the join token agents present.
	Token string
	// Kubeconfig is the path of the admin kubeconfig.
	Kubeconfig string
	// EndpointAddress is the address pods reach the API server at, which
	// the kubernetes Service's endpoints point to (see EndpointAddress);
	// invalid when none could be chosen.
	EndpointAddress netip.Addr
	// Port is the port the API is served on.
	Port int
	// CAFile is the cluster CA's certificate, which signs the API server's
	// kubelet client certificate that nodes check.
	CAFile string
	// CA is the cluster CA, which signs the kubelets' serving certificates
	// the API server checks.
	CA *pki.CA

	stop    context.CancelFunc
	done    chan struct{}
	err     error
	release []func()
	loops   sync.WaitGroup
}

// Start starts the API server and returns once it answers /readyz and the
// bootstrap objects exist. It serves until Shutdown; Done is closed if it
// stops before. When ctx ends during the start, Start stops what it started
// and returns ctx's error.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	start := time.Now()
	// The data dir holds keys: only its owner may enter it, even when it
	// was made before with a wider mode.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if cfg.AdvertiseAddress == "" {
		cfg.AdvertiseAddress = "127.0.0.1"
	}
	if cfg.Listener != nil {
		addr, ok := cfg.Listener.Addr().(*net.TCPAddr)
		if !ok {
			return nil, fmt.Errorf("listener on %s: not TCP", cfg.Listener.Addr())
		}
		cfg.Port = addr.Port
	}
	files, err := writeFiles(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		URL:        "https://" + net.JoinHostPort(cfg.AdvertiseAddress, fmt.Sprint(cfg.Port)),
		Token:      files.token.String(),
		Kubeconfig: KubeconfigPath(cfg.DataDir),
		Port:       cfg.Port,
		done:       make(chan struct{}),
	}
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()

	etcdClientCfg := cfg.Etcd
	if len(etcdClientCfg.Endpoints) == 0 {
		// The embedded etcd lives until Shutdown (ctx bounds its start).
		// It serves clients and its (absent) peers over mutual TLS, and
		// takes the API server's client certificate only.
		tlsFiles := etcdTLS(cfg.DataDir)
		e, err := etcd.Start(ctx, etcd.Config{
			DataDir: EtcdDataDir(cfg.DataDir), Fast: true, UnsafeNoFsync: cfg.UnsafeNoFsync, Logger: log.With("component", "etcd"),
			TLS: &etcd.ServerTLS{CAFile: tlsFiles.ca, CertFile: tlsFiles.serverCert, KeyFile: tlsFiles.serverKey,
				// The member dials itself (its HTTP gateway) with its
				// serving certificate.
				ClientCNs: []string{EtcdClientCommonName, etcdServerCommonName}, PeerCNs: []string{etcdServerCommonName}},
		})
		if err != nil {
			return nil, err
		}
		s.release = append(s.release, func() { e.Close() })
		etcdClientCfg = tlsFiles.client(e.Endpoint)
		log.Info("embedded etcd ready", "endpoint", e.Endpoint, "elapsed", time.Since(start).Round(time.Millisecond))
	}
	etcdClient, err := etcdClientCfg.New(log.With("component", "etcd-client"))
	if err != nil {
		return nil, err
	}
	s.release = append(s.release, func() { etcdClient.Close() })
	alloc, err := servicealloc.New(servicealloc.Config{
		Client: etcdClient, ServiceCIDR: cfg.ServiceCIDR, NodePortMin: cfg.NodePortMin, NodePortMax: cfg.NodePortMax, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	var (
		usage  *resource.Store
		values *custom.Store
	)
	if !cfg.Metrics.Disable {
		usage, values = resource.NewStore(), custom.NewStore()
	}
	srv, err := apiserver.New(ctx, apiserver.Config{
		BindAddress: cfg.BindAddress, SecurePort: cfg.Port, Listener: cfg.Listener,
		CertFile: files.servingChain, KeyFile: files.servingKey, ClientCAFile: files.ca.CertFile, JoinToken: &files.token, CA: files.ca,
		Etcd: etcdClientCfg, EncryptionProviderConfig: files.encryptionConfig, Audit: cfg.Audit, Allocations: alloc, Logger: log,
		KubeletClientCertFile: files.kubeletCert, KubeletClientKeyFile: files.kubeletKey, KubeletCAFile: files.ca.CertFile, ProxyTransport: cfg.ProxyTransport,
		DefaultNotReadyTolerationSeconds:    cfg.DefaultNotReadyTolerationSeconds,
		DefaultUnreachableTolerationSeconds: cfg.DefaultUnreachableTolerationSeconds,
		ResourceMetrics:                     resourceMetrics(usage),
		CustomMetrics:                       customMetrics(values),
		AuthorizationOptions:                cfg.AuthorizationOptions,
		ExternalAddress:                     net.JoinHostPort(cfg.AdvertiseAddress, fmt.Sprint(cfg.Port)),
		ServiceAccounts:                     files.serviceAccounts,
		DisableAdmissionPlugins:             cfg.DisableAdmissionPlugins,
		AggregationOptions:                  files.frontProxy,
	})
	if err != nil {
		return nil, err
	}
	s.Loopback = srv.Loopback
	s.CAFile, s.CA = files.ca.CertFile, files.ca
	srvCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	go func() {
		defer close(s.done)
		s.err = srv.Run(srvCtx)
		if errors.Is(s.err, context.Canceled) {
			s.err = nil
		}
	}()
	readyCtx, cancelReady := context.WithCancel(ctx)
	defer cancelReady()
	go func() {
		select {
		case <-s.done: // the server stopped: stop waiting for it
			cancelReady()
		case <-readyCtx.Done():
		}
	}()
	if err := waitReady(readyCtx, srv); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err := s.Shutdown(); err != nil {
			return nil, err
		}
		return nil, errors.New("the API server stopped before it was ready")
	}
	if err := bootstrap(readyCtx, srv, alloc, int32(cfg.Port), clusterDNSService(cfg)); err != nil {
		log.Error("bootstrap objects", "err", err)
	}
	if err := s.startRepair(srvCtx, srv, alloc, cfg); err != nil {
		return nil, err
	}
	if usage != nil {
		if err := s.startMetrics(srvCtx, srv.Loopback, files, cfg.Metrics, usage, values, log.With("component", "metrics")); err != nil {
			return nil, err
		}
	}
	if s.EndpointAddress, err = EndpointAddress(cfg.AdvertiseAddress); err != nil {
		log.Error("the kubernetes service gets no endpoints", "err", err)
	} else if client, err := kubernetes.NewForConfig(quietEndpoints(srv.Loopback)); err != nil {
		log.Error("the kubernetes service gets no endpoints", "err", err)
	} else {
		s.loops.Go(func() { runEndpointReconciler(srvCtx, client, s.EndpointAddress, int32(cfg.Port), log) })
	}
	log.Info("skiff server ready", "address", net.JoinHostPort(cfg.AdvertiseAddress, fmt.Sprint(cfg.Port)),
		"kubeconfig", s.Kubeconfig, "elapsed", time.Since(start).Round(time.Millisecond))
	log.Info("kubectl reaches the cluster with export KUBECONFIG="+s.Kubeconfig, "kubeconfig", s.Kubeconfig)
	log.Info("agents join with the token in "+join.TokenPath(cfg.DataDir),
		"command", "skiff agent --server "+s.URL+" --token "+s.Token)
	return s, nil
}

// startRepair runs the repair loop of the Service address records until
// ctx ends; Shutdown waits for it.
func (s *Server) startRepair(ctx context.Context, srv *apiserver.Server, alloc *servicealloc.Allocator, cfg Config) error {
	client, err := kubernetes.NewForConfig(srv.Loopback)
	if err != nil {
		return fmt.Errorf("repair client: %w", err)
	}
	s.loops.Go(func() {
		alloc.RunRepair(ctx, client.CoreV1().Services(""), servicealloc.RepairOptions{Interval: cfg.ServiceRepairInterval, Grace: cfg.ServiceRepairGrace})
	})
	return nil
}

// Done is closed when the API server has stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

// Shutdown stops the API server and its storage and returns the error it
// stopped with (nil for a stop asked for).
func (s *Server) Shutdown() error {
	s.closeAll()
	return s.err
}

func (s *Server) closeAll() {
	if s.stop != nil {
		s.stop()
		s.loops.Wait()
		<-s.done
	}
	for i := len(s.release) - 1; i >= 0; i-- {
		s.release[i]()
	}
	s.release = nil
}

// dataFiles are what the data dir holds for the API server.
type dataFiles struct {
	ca                       *pki.CA
	token                    join.Token
	servingChain, servingKey string
	kubeletCert, kubeletKey  string
	encryptionConfig         string
	// serviceAccounts is Config.ServiceAccounts with its signing key.
	serviceAccounts serviceaccount.Options
	// frontProxy is the front-proxy CA and the aggregator's client
	// certificate it signs.
	frontProxy apiserver.AggregationOptions
}

// writeFiles creates (or keeps) the CA, the certificates, the join token and
// the admin kubeconfig in the data dir.
func writeFiles(cfg Config) (dataFiles, error) {
	var f dataFiles
	tlsDir := filepath.Join(cfg.DataDir, "tls")
	ca, err := pki.LoadOrCreateCA(tlsDir)
	if err != nil {
		return f, err
	}
	f.ca = ca
	servingCert := filepath.Join(tlsDir, "serving.crt")
	f.servingKey = filepath.Join(tlsDir, "serving.key")
	if err := ca.EnsureLeaf(servingCert, f.servingKey, servingLeaf(cfg)); err != nil {
		return f, err
	}
	// The API serves its certificate with the CA after it, so that agents
	// can pin the CA by the hash in their join token.
	f.servingChain = filepath.Join(tlsDir, "serving-chain.crt")
	if err := writeChain(f.servingChain, servingCert, ca.CertFile); err != nil {
		return f, err
	}
	if f.token, err = join.LoadOrCreateToken(cfg.DataDir, ca.Hash()); err != nil {
		return f, err
	}
	if len(cfg.Etcd.Endpoints) == 0 {
		etcdFiles := etcdTLS(cfg.DataDir)
		etcdServing := pki.Leaf{CommonName: etcdServerCommonName, DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}}
		if err := ca.EnsureLeaf(etcdFiles.serverCert, etcdFiles.serverKey, etcdServing); err != nil {
			return f, err
		}
		if err := ca.EnsureLeaf(etcdFiles.clientCert, etcdFiles.clientKey, pki.Leaf{CommonName: EtcdClientCommonName}); err != nil {
			return f, err
		}
	}
	f.encryptionConfig = cfg.EncryptionProviderConfig
	if f.encryptionConfig == "" {
		f.encryptionConfig = encryption.ConfigPath(cfg.DataDir)
		if _, err := encryption.Ensure(f.encryptionConfig, rand.Reader, time.Now()); err != nil {
			return f, err
		}
	}
	adminCert, adminKey := filepath.Join(tlsDir, "admin.crt"), filepath.Join(tlsDir, "admin.key")
	if err := ca.EnsureLeaf(adminCert, adminKey, pki.Leaf{CommonName: "system:admin", Organization: []string{"system:masters"}}); err != nil {
		return f, err
	}
	// The client certificate the API server shows to node agents' kubelet
	// servers (pods/log, exec, attach, portforward, stats, metrics).
	f.kubeletCert, f.kubeletKey = filepath.Join(tlsDir, "kubelet-client.crt"), filepath.Join(tlsDir, "kubelet-client.key")
	if err := ca.EnsureLeaf(f.kubeletCert, f.kubeletKey, pki.Leaf{CommonName: KubeletClientCommonName}); err != nil {
		return f, err
	}
	// The front-proxy CA, apart from the cluster CA as kubeadm keeps it,
	// and the aggregator's client certificate toward aggregated API
	// servers, which trust that CA for the user in the request headers.
	frontProxyCA, err := pki.LoadOrCreateNamedCA(tlsDir, wellknown.FrontProxyCAName, wellknown.FrontProxyCAName)
	if err != nil {
		return f, err
	}
	proxyCert, proxyKey := filepath.Join(tlsDir, wellknown.FrontProxyClientCertFile), filepath.Join(tlsDir, wellknown.FrontProxyClientKeyFile)
	if err := frontProxyCA.EnsureLeaf(proxyCert, proxyKey, pki.Leaf{CommonName: wellknown.FrontProxyClientCommonName}); err != nil {
		return f, err
	}
	f.frontProxy = apiserver.FrontProxy(frontProxyCA.CertFile, proxyCert, proxyKey)
	f.serviceAccounts = cfg.ServiceAccounts
	if f.serviceAccounts.SigningKeyFile == "" {
		f.serviceAccounts.SigningKeyFile = serviceaccount.SigningKeyPath(cfg.DataDir)
		if err := serviceaccount.EnsureSigningKey(f.serviceAccounts.SigningKeyFile); err != nil {
			return f, err
		}
	}
	err = pki.Kubeconfig{
		Server: "https://" + net.JoinHostPort(cfg.AdvertiseAddress, fmt.Sprint(cfg.Port)),
		CAFile: ca.CertFile, CertFile: adminCert, KeyFile: adminKey, Name: "skiff",
	}.Write(KubeconfigPath(cfg.DataDir))
	return f, err
}

// writeChain writes the serving certificate followed by the CA into path.
func writeChain(path string, files ...string) error {
	var chain []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("certificate chain: %w", err)
		}
		chain = append(chain, b...)
	}
	if err := os.WriteFile(path, chain, 0o644); err != nil {
		return fmt.Errorf("certificate chain: %w", err)
	}
	return nil
}

func servingLeaf(cfg Config) pki.Leaf {
	leaf := pki.Leaf{
		CommonName: "kube-apiserver",
		DNSNames:   []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		leaf.DNSNames = append(leaf.DNSNames, host)
	}
	if ip := net.ParseIP(cfg.AdvertiseAddress); ip != nil && !ip.IsLoopback() {
		leaf.IPs = append(leaf.IPs, ip)
	} else if ip == nil && cfg.AdvertiseAddress != "localhost" {
		leaf.DNSNames = append(leaf.DNSNames, cfg.AdvertiseAddress)
	}
	if cfg.ServiceCIDR.IsValid() {
		leaf.IPs = append(leaf.IPs, net.IP(cfg.ServiceCIDR.Masked().Addr().Next().AsSlice()))
	} else {
		leaf.IPs = append(leaf.IPs, net.ParseIP("10.43.0.1"))
	}
	return leaf
}

// quietEndpoints is the loopback configuration for the kubernetes Service's
// core/v1 Endpoints, which kube-apiserver keeps too: without the deprecation
// warning every request to them would put in the log.
func quietEndpoints(loopback *rest.Config) *rest.Config {
	cfg := rest.CopyConfig(loopback)
	cfg.WarningHandler = rest.NoWarnings{}
	return cfg
}
