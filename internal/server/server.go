// Package server runs `skiff server`: the API server (internal/server/api:
// data directory, certificates, etcd, the API) and, once the API is ready,
// the controllers and the scheduler (under leader election), the server's
// own node and its hollow nodes, until its context ends.
package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"skiff.dev/skiff/internal/agent"
	"skiff.dev/skiff/internal/agent/hollow"
	"skiff.dev/skiff/internal/controller/nodeipam"
	"skiff.dev/skiff/internal/controllermanager"
	"skiff.dev/skiff/internal/server/api"
)

// Config is the configuration of `skiff server`: the API server's and,
// embedded, those of the components it runs beside it.
type Config struct {
	api.Config

	// NoControllers runs no controllers and no scheduler.
	NoControllers bool
	// ControllerManager configures the controllers and the scheduler;
	// RestConfig and Logger are set by Run.
	ControllerManager controllermanager.Config

	// DisableAgent runs no node of the server's own.
	DisableAgent bool
	// Node is the server's own node. With Node.Runtime fake it is simulated
	// in this process; else it is an agent in this process that joins over
	// the API like any other (Server, Token, DataDir and Logger are set by
	// Run).
	Node agent.Config
	// Hollow adds Hollow.Count simulated nodes, named Hollow.NamePrefix0 ...
	// (default hollow-0 ...); none when Count is 0. Names, WaitForPodCIDR and
	// Logger are set by Run.
	Hollow hollow.Options

	// DNS is the cluster DNS server run beside the API server.
	DNS DNSConfig

	// Ready, when set, is called once the API server answers /readyz.
	Ready func()
}

// DNSConfig configures the cluster DNS server of `skiff server`. Its
// domain is Node.ClusterDomain; the kube-dns Service's ClusterIP is the
// first of Node.ClusterDNS.
type DNSConfig struct {
	// Disable runs no DNS server (nor does it keep kube-dns' Endpoints).
	Disable bool
	// Port is where it listens, UDP and TCP; 0 picks a free port (tests).
	Port int
	// Address is the address it listens on, reachable from pods (default:
	// Node.NodeIP, else the address of the interface of the default route).
	Address string
	// ResolvConf holds the upstream servers for names outside the cluster
	// domain (default /etc/resolv.conf).
	ResolvConf string
}

// KubeconfigPath is where the admin kubeconfig is written in a data dir.
func KubeconfigPath(dataDir string) string { return api.KubeconfigPath(dataDir) }

// Run runs the server until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg.Logger = log
	setDNSDefaults(&cfg)
	warnPodCIDRShortage(log, cfg)
	srv, err := api.Start(ctx, cfg.Config)
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return nil
		}
		return err
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	// The components stop first, while the API still serves them: the
	// controller manager releases its Leases, the server's own node stops
	// its pods. Then the API server stops.
	compCtx, stopComponents := context.WithCancel(ctx)
	defer stopComponents()
	var components sync.WaitGroup
	startComponents(compCtx, cfg, srv, log, &components)
	select {
	case <-ctx.Done():
	case <-srv.Done():
	}
	stopComponents()
	components.Wait()
	return srv.Shutdown()
}

// warnPodCIDRShortage warns when the cluster CIDR cannot give a pod CIDR to
// each node the server is asked to run (its own and the hollow ones): the
// nodes left over would take no pods.
func warnPodCIDRShortage(log *slog.Logger, cfg Config) {
	if cfg.NoControllers {
		return
	}
	nodes := cfg.Hollow.Count
	if !cfg.DisableAgent {
		nodes++
	}
	ipam := cfg.ControllerManager.NodeIPAM
	msg, err := nodeipam.ShortageWarning(ipam.ClusterCIDR, ipam.NodeCIDRMaskSize, nodes)
	if err != nil {
		log.Warn("cluster CIDR", "err", err)
		return
	}
	if msg != "" {
		log.Warn(msg, "clusterCIDR", ipam.ClusterCIDR, "nodeCIDRMaskSize", ipam.NodeCIDRMaskSize, "nodes", nodes)
	}
}
