// Package controlplane starts what runs beside the API server in the `skiff
// server` process once the API is ready: the controllers and the scheduler
// (under leader election) and the server's own and hollow nodes.
package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

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
	// HollowNodes adds that many simulated nodes, hollow-0 ... hollow-(N-1).
	HollowNodes int
	// NodeMonitorGracePeriod is how long a node may miss heartbeats before
	// it turns Unknown (default 40 s).
	NodeMonitorGracePeriod time.Duration
	Logger                 *slog.Logger
}

// Start starts the components over the loopback client configuration; they
// stop when ctx ends.
func Start(ctx context.Context, cfg Config, loopback *rest.Config) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if !cfg.NoControllers {
		go func() {
			err := controllermanager.Run(ctx, controllermanager.Config{
				RestConfig:             loopback,
				NodeMonitorGracePeriod: cfg.NodeMonitorGracePeriod,
				Logger:                 log,
			})
			if err != nil {
				log.Error("controller manager", "err", err)
			}
		}()
	}
	if err := startNodes(ctx, cfg, loopback, log); err != nil {
		log.Error("nodes", "err", err)
	}
}

// startNodes starts this server's own node and its hollow nodes.
func startNodes(ctx context.Context, cfg Config, loopback *rest.Config, log *slog.Logger) error {
	var hollowNames []string
	switch cfg.Runtime {
	case "fake":
		hollowNames = append(hollowNames, cfg.NodeName)
		log.Info("this server's node is simulated (--runtime=fake): its pods run no processes", "node", cfg.NodeName)
	case "none":
	default:
		log.Warn("no container runtime in this build yet: this server runs no node of its own; use --runtime=fake for a simulated one", "runtime", cfg.Runtime)
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
		if err := hollow.Run(ctx, client, hollow.Options{Names: hollowNames, Logger: log}); err != nil && ctx.Err() == nil {
			log.Error("hollow nodes", "err", err)
		}
	}()
	return nil
}
