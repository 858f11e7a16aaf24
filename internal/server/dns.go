package server

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/dns"
	"skiff.dev/skiff/internal/server/api"
	"skiff.dev/skiff/internal/wellknown"
)

// setDNSDefaults fills the cluster DNS settings the API server (the
// kube-dns Service) and the server's own node share: the cluster DNS
// address (the tenth of the service range unless given; the Service gets
// the first IPv4 one) and domain, and the DNS server's port as the
// Service's targetPort.
func setDNSDefaults(cfg *Config) {
	if len(cfg.Node.ClusterDNS) == 0 {
		cfg.Node.ClusterDNS = []netip.Addr{api.DefaultClusterDNS(cfg.ServiceCIDR)}
	}
	if cfg.Node.ClusterDomain == "" {
		cfg.Node.ClusterDomain = wellknown.ClusterDomain
	}
	if !cfg.ClusterDNS.IsValid() {
		cfg.ClusterDNS = cfg.Node.ClusterDNS[0]
		for _, a := range cfg.Node.ClusterDNS {
			if a.Is4() {
				cfg.ClusterDNS = a
				break
			}
		}
	}
	if cfg.ClusterDNSPort == 0 {
		cfg.ClusterDNSPort = cfg.DNS.Port
	}
}

// dnsListenAddress is where the DNS server listens: cfg.DNS.Address, the
// node's address, or the default route's interface address (127.0.0.1,
// which pods cannot reach, when there is none).
func dnsListenAddress(cfg Config, log *slog.Logger) string {
	host := cfg.DNS.Address
	if host == "" {
		host = cfg.Node.NodeIP
	}
	if host == "" {
		ip, err := utilnet.ChooseHostInterface()
		if err != nil {
			log.Warn("cluster DNS: no default route interface, listening on 127.0.0.1 (pods cannot reach it)", "err", err)
			host = "127.0.0.1"
		} else {
			host = ip.String()
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(cfg.DNS.Port))
}

// startDNS runs the cluster DNS server and keeps the kube-dns Endpoints
// pointing at it until ctx ends. A server that cannot listen is logged,
// and the rest of skiff runs without it.
func startDNS(ctx context.Context, cfg Config, loopback *rest.Config, log *slog.Logger, running *sync.WaitGroup) {
	restCfg := rest.CopyConfig(loopback)
	restCfg.ContentType = "application/vnd.kubernetes.protobuf"
	// The kube-dns Endpoints are core/v1 Endpoints on purpose (the
	// mirroring controller makes their EndpointSlices): no deprecation
	// warning in the log for each write.
	restCfg.WarningHandler = rest.NoWarnings{}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		log.Error("cluster DNS client", "err", err)
		return
	}
	srv, err := dns.New(dns.Config{
		Client: client, ListenAddr: dnsListenAddress(cfg, log), Domain: cfg.Node.ClusterDomain,
		ResolvConf: cfg.DNS.ResolvConf, Logger: log,
	})
	if err != nil {
		log.Error("cluster DNS not started", "err", err)
		return
	}
	running.Go(func() {
		if err := srv.Run(ctx); err != nil {
			log.Error("cluster DNS stopped", "err", err)
		}
	})
	if srv.Addr().Addr().IsLoopback() {
		// Endpoints may not hold loopback addresses, and pods could not
		// reach one.
		log.Warn("cluster DNS listens on a loopback address: kube-dns gets no endpoints, pods resolve nothing through it", "address", srv.Addr().String())
		return
	}
	running.Go(func() { dns.KeepEndpoints(ctx, client, srv.Addr(), 0, log) })
}
