package server

import (
	"context"
	"fmt"
	"log/slog"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/agent/hollow"
	"skiff.dev/skiff/internal/controllermanager"
)

// components starts, once the API is ready, what runs beside it in the
// server process: the controllers and the scheduler (under leader
// election) and this server's nodes.
func components(ctx context.Context, cfg Config, loopback *rest.Config, log *slog.Logger) {
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
