package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/agent"
	"skiff.dev/skiff/internal/agent/hollow"
	"skiff.dev/skiff/internal/controllermanager"
	"skiff.dev/skiff/internal/pki"
	"skiff.dev/skiff/internal/server/api"
)

// startComponents starts what runs beside the API server once it is ready:
// the controllers and the scheduler, the server's own node and the hollow
// nodes and the cluster DNS server, over the loopback client configuration; they stop when ctx ends.
// running counts the controller manager until it has released its Leases
// and the server's own agent until it has stopped its pods.
func startComponents(ctx context.Context, cfg Config, srv *api.Server, log *slog.Logger, running *sync.WaitGroup) {
	loopback := srv.Loopback
	// Every node reads the cluster's address ranges from the API server:
	// publish them before this server's own node starts.
	if err := publishClusterNetwork(ctx, loopback, cfg); err != nil {
		log.Error("publishing the cluster network", "err", err)
	}
	if err := ensureDefaultStorageClass(ctx, loopback); err != nil {
		log.Error("the default StorageClass", "err", err)
	}
	if !cfg.NoControllers {
		cm := cfg.ControllerManager
		cm.RestConfig, cm.Logger = loopback, log
		if cm.RootCAFile == "" {
			cm.RootCAFile = srv.CAFile
		}
		if cm.SigningCA == nil && srv.CA != nil {
			cm.SigningCA = srv.CA
		}
		running.Go(func() {
			if err := controllermanager.Run(ctx, cm); err != nil {
				log.Error("controller manager", "err", err)
			}
		})
	}
	if !cfg.NoControllers && !cfg.DNS.Disable {
		startDNS(ctx, cfg, loopback, log.With("component", "dns"), running)
	}
	var simulated []string
	switch {
	case cfg.DisableAgent:
		log.Info("this server runs no node of its own (--disable-agent)")
	case cfg.Node.Runtime == agent.RuntimeFake:
		simulated = append(simulated, cfg.Node.NodeName)
		log.Info("this server's node is simulated (--runtime=fake): its pods run no processes", "node", cfg.Node.NodeName)
	default:
		// The server's own node joins like any agent, with the token the
		// server just wrote.
		a := cfg.Node
		a.Server, a.Token, a.DataDir = srv.URL, srv.Token, filepath.Join(cfg.DataDir, "agent")
		a.Logger = log.With("component", "agent")
		running.Go(func() {
			if err := agent.Run(ctx, a); err != nil && ctx.Err() == nil {
				log.Error("this server's node stopped", "err", err)
			}
		})
	}
	if err := startHollow(ctx, cfg, simulated, loopback, srv.CA, log); err != nil {
		log.Error("hollow nodes", "err", err)
	}
}

// startHollow simulates the named nodes and cfg.Hollow.Count more.
func startHollow(ctx context.Context, cfg Config, names []string, loopback *rest.Config, ca *pki.CA, log *slog.Logger) error {
	opts := cfg.Hollow
	prefix := opts.NamePrefix
	if prefix == "" {
		prefix = "hollow-"
	}
	for i := range opts.Count {
		names = append(names, fmt.Sprintf("%s%d", prefix, i))
	}
	if len(names) == 0 {
		return nil
	}
	restCfg := rest.CopyConfig(loopback)
	restCfg.ContentType = "application/vnd.kubernetes.protobuf"
	restCfg.QPS, restCfg.Burst = -1, 0
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("hollow nodes client: %w", err)
	}
	// With the controllers running, the node IPAM controller hands out the
	// hollow nodes' pod CIDRs like any other node's.
	opts.Names, opts.WaitForPodCIDR, opts.Logger = names, !cfg.NoControllers, log
	// They serve their stats behind the kubelet's authentication and
	// authorization, with serving certificates of the cluster CA, as every
	// node does.
	if opts.ClientCA == nil && ca != nil {
		if pem, err := os.ReadFile(ca.CertFile); err != nil {
			log.Warn("hollow nodes serve no stats: cluster CA", "err", err)
		} else {
			opts.ClientCA = pem
			opts.ServingCertificate = func(hosts []string) (tls.Certificate, error) {
				dns, ips := pki.Hosts(hosts)
				return ca.TLSCertificate(pki.Leaf{CommonName: "hollow-kubelets", DNSNames: dns, IPs: ips, ServerOnly: true})
			}
		}
	}
	go func() {
		if err := hollow.Run(ctx, client, opts); err != nil && ctx.Err() == nil {
			log.Error("hollow nodes", "err", err)
		}
	}()
	return nil
}
