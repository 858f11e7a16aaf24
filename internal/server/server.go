// Package server runs `skiff server`: it prepares the data directory
// (certificates, kubeconfig), starts or connects to etcd, and runs the API
// server until its context ends.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/join"
	"skiff.dev/skiff/internal/pki"
	"skiff.dev/skiff/internal/registry/servicealloc"
	"skiff.dev/skiff/internal/storage/etcd"
)

// Config is the configuration of `skiff server`.
type Config struct {
	// DataDir holds etcd's data, the certificates and the kubeconfig.
	DataDir string
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
	// EtcdEndpoints selects an external etcd cluster; empty embeds one.
	EtcdEndpoints []string
	// ServiceCIDR is the range of Service ClusterIPs.
	ServiceCIDR netip.Prefix
	// NodePortMin and NodePortMax bound the NodePorts.
	NodePortMin, NodePortMax int
	// UnsafeNoFsync makes the embedded etcd skip fsync (tests only).
	UnsafeNoFsync bool
	Logger        *slog.Logger
	// Ready, when set, is called once the API server answers /readyz.
	Ready func()

	// DefaultNotReadyTolerationSeconds and DefaultUnreachableTolerationSeconds
	// are how long new pods stay on a not-ready or unreachable node (300).
	DefaultNotReadyTolerationSeconds, DefaultUnreachableTolerationSeconds int64
	// Components, when set, is started once the API is ready, with a client
	// configuration of full rights over it, and runs until ctx ends.
	Components func(ctx context.Context, loopback *rest.Config)
}

// KubeletClientCommonName is the CommonName of the API server's client
// certificate toward the node agents' kubelet servers, which accept no other.
const KubeletClientCommonName = "kube-apiserver-kubelet-client"

// KubeconfigPath is where the admin kubeconfig is written in a data dir.
func KubeconfigPath(dataDir string) string {
	return filepath.Join(dataDir, "kubeconfig.yaml")
}

// Run runs the server until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	start := time.Now()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if cfg.AdvertiseAddress == "" {
		cfg.AdvertiseAddress = "127.0.0.1"
	}
	if cfg.Listener != nil {
		addr, ok := cfg.Listener.Addr().(*net.TCPAddr)
		if !ok {
			return fmt.Errorf("listener on %s: not TCP", cfg.Listener.Addr())
		}
		cfg.Port = addr.Port
	}
	tlsDir := filepath.Join(cfg.DataDir, "tls")
	ca, err := pki.LoadOrCreateCA(tlsDir)
	if err != nil {
		return err
	}
	servingCert, servingKey := filepath.Join(tlsDir, "serving.crt"), filepath.Join(tlsDir, "serving.key")
	if err := ca.EnsureLeaf(servingCert, servingKey, servingLeaf(cfg)); err != nil {
		return err
	}
	// The API serves its certificate with the CA after it, so that agents
	// can pin the CA by the hash in their join token.
	servingChain := filepath.Join(tlsDir, "serving-chain.crt")
	if err := writeChain(servingChain, servingCert, ca.CertFile); err != nil {
		return err
	}
	token, err := join.LoadOrCreateToken(cfg.DataDir, ca.Hash())
	if err != nil {
		return err
	}
	adminCert, adminKey := filepath.Join(tlsDir, "admin.crt"), filepath.Join(tlsDir, "admin.key")
	if err := ca.EnsureLeaf(adminCert, adminKey, pki.Leaf{CommonName: "system:admin", Organization: []string{"system:masters"}}); err != nil {
		return err
	}
	// The client certificate the API server shows to node agents' kubelet
	// servers (pods/log, exec, attach, portforward).
	kubeletCert, kubeletKey := filepath.Join(tlsDir, "kubelet-client.crt"), filepath.Join(tlsDir, "kubelet-client.key")
	if err := ca.EnsureLeaf(kubeletCert, kubeletKey, pki.Leaf{CommonName: KubeletClientCommonName, Organization: []string{"system:masters"}}); err != nil {
		return err
	}
	kubeconfig := KubeconfigPath(cfg.DataDir)
	err = pki.Kubeconfig{
		Server: "https://" + net.JoinHostPort(cfg.AdvertiseAddress, fmt.Sprint(cfg.Port)),
		CAFile: ca.CertFile, CertFile: adminCert, KeyFile: adminKey, Name: "skiff",
	}.Write(kubeconfig)
	if err != nil {
		return err
	}

	endpoints := cfg.EtcdEndpoints
	if len(endpoints) == 0 {
		e, err := etcd.Start(ctx, etcd.Config{DataDir: filepath.Join(cfg.DataDir, "etcd"), Fast: true, UnsafeNoFsync: cfg.UnsafeNoFsync})
		if err != nil {
			return err
		}
		defer e.Close()
		endpoints = []string{e.Endpoint}
		log.Info("embedded etcd ready", "endpoint", e.Endpoint, "elapsed", time.Since(start).Round(time.Millisecond))
	}
	etcdClient, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 10 * time.Second})
	if err != nil {
		return fmt.Errorf("etcd client: %w", err)
	}
	defer etcdClient.Close()
	alloc, err := servicealloc.New(servicealloc.Config{
		Client: etcdClient, ServiceCIDR: cfg.ServiceCIDR, NodePortMin: cfg.NodePortMin, NodePortMax: cfg.NodePortMax, Logger: log,
	})
	if err != nil {
		return err
	}

	srv, err := apiserver.New(apiserver.Config{
		BindAddress: cfg.BindAddress, SecurePort: cfg.Port, Listener: cfg.Listener,
		CertFile: servingChain, KeyFile: servingKey, ClientCAFile: ca.CertFile, JoinToken: &token, CA: ca,
		EtcdServers: endpoints, Allocations: alloc, Logger: log,
		KubeletClientCertFile: kubeletCert, KubeletClientKeyFile: kubeletKey,
		DefaultNotReadyTolerationSeconds:    cfg.DefaultNotReadyTolerationSeconds,
		DefaultUnreachableTolerationSeconds: cfg.DefaultUnreachableTolerationSeconds,
	})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	go func() {
		if err := waitReady(runCtx, srv); err != nil {
			return
		}
		if err := bootstrap(runCtx, srv, alloc); err != nil {
			log.Error("bootstrap objects", "err", err)
		}
		log.Info("skiff server ready", "address", net.JoinHostPort(cfg.AdvertiseAddress, fmt.Sprint(cfg.Port)),
			"kubeconfig", kubeconfig, "elapsed", time.Since(start).Round(time.Millisecond))
		fmt.Fprintf(os.Stderr, "kubeconfig written to %s\n  export KUBECONFIG=%s\n", kubeconfig, kubeconfig)
		fmt.Fprintf(os.Stderr, "agents join with the token in %s:\n  skiff agent --server https://%s --token %s\n",
			join.TokenPath(cfg.DataDir), net.JoinHostPort(cfg.AdvertiseAddress, fmt.Sprint(cfg.Port)), token)
		if cfg.Ready != nil {
			cfg.Ready()
		}
		if cfg.Components != nil {
			cfg.Components(runCtx, srv.Loopback)
		}
	}()
	err = <-done
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
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
