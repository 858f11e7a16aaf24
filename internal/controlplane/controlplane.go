// Package controlplane starts what runs beside the API server in the `skiff
// server` process once the API is ready: the controllers and the scheduler
// (under leader election) and the server's own and hollow nodes.
package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/agent"
	"skiff.dev/skiff/internal/agent/hollow"
	"skiff.dev/skiff/internal/controllermanager"
)

// Config selects what runs.
type Config struct {
	// NoControllers runs no controllers and no scheduler.
	NoControllers bool
	// NodeName is the name of the server's own node.
	NodeName string
	// Runtime runs the server's own node's pods: auto, cri, process or fake.
	Runtime string
	// Agent configures the server's own node when Runtime is auto, cri or
	// process: an agent in this process that joins over the API like any
	// other (Server, Token, DataDir filled in by the caller).
	Agent agent.Config
	// DisableAgent runs no node in the server (only hollow nodes, if any).
	DisableAgent bool
	// ClusterCIDR is the range of the nodes' pod CIDRs, handed out by the
	// node IPAM controller; default 10.42.0.0/16.
	ClusterCIDR netip.Prefix
	// HollowNodes adds that many simulated nodes, hollow-0 ... hollow-(N-1).
	HollowNodes int
	// NodeMonitorGracePeriod is how long a node may miss heartbeats before
	// it turns Unknown (default 40 s).
	NodeMonitorGracePeriod time.Duration
	// TerminatedPodGCThreshold is how many finished pods the pod garbage
	// collector keeps (default 12500; negative keeps them all).
	TerminatedPodGCThreshold int
	Logger                   *slog.Logger
}

// Start starts the components over the loopback client configuration; they
// stop when ctx ends. The returned wait blocks until this server's own node
// has stopped its pods (the process must not exit before).
func Start(ctx context.Context, cfg Config, loopback *rest.Config) (wait func()) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if !cfg.NoControllers {
		go func() {
			err := controllermanager.Run(ctx, controllermanager.Config{
				RestConfig:               loopback,
				NodeMonitorGracePeriod:   cfg.NodeMonitorGracePeriod,
				TerminatedPodGCThreshold: cfg.TerminatedPodGCThreshold,
				ClusterCIDR:              cfg.ClusterCIDR,
				Logger:                   log,
			})
			if err != nil {
				log.Error("controller manager", "err", err)
			}
		}()
	}
	var agentDone sync.WaitGroup
	if err := startNodes(ctx, cfg, loopback, log, &agentDone); err != nil {
		log.Error("nodes", "err", err)
	}
	return agentDone.Wait
}

// startNodes starts this server's own node and its hollow nodes.
func startNodes(ctx context.Context, cfg Config, loopback *rest.Config, log *slog.Logger, agentDone *sync.WaitGroup) error {
	var hollowNames []string
	switch {
	case cfg.DisableAgent:
		log.Info("this server runs no node of its own (--disable-agent)")
	case cfg.Runtime == "fake":
		hollowNames = append(hollowNames, cfg.NodeName)
		log.Info("this server's node is simulated (--runtime=fake): its pods run no processes", "node", cfg.NodeName)
	default:
		a := cfg.Agent
		a.NodeName, a.Runtime, a.Logger = cfg.NodeName, cfg.Runtime, log.With("component", "agent")
		agentDone.Add(1)
		go func() {
			defer agentDone.Done()
			if err := agent.Run(ctx, a); err != nil && ctx.Err() == nil {
				log.Error("this server's node stopped", "err", err)
			}
		}()
	}
	for i := 0; i < cfg.HollowNodes; i++ {
		hollowNames = append(hollowNames, fmt.Sprintf("hollow-%d", i))
	}
	if len(hollowNames) == 0 {
		return nil
	}
	restCfg := rest.CopyConfig(loopback)
	restCfg.ContentType = "application/vnd.kubernetes.protobuf"
	restCfg.QPS, restCfg.Burst = -1, 0
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("hollow nodes client: %w", err)
	}
	go func() {
		// With the controllers running, the node IPAM controller hands out
		// the hollow nodes' pod CIDRs like any other node's.
		opts := hollow.Options{Names: hollowNames, WaitForPodCIDR: !cfg.NoControllers, Logger: log}
		if err := hollow.Run(ctx, client, opts); err != nil && ctx.Err() == nil {
			log.Error("hollow nodes", "err", err)
		}
	}()
	return nil
}
