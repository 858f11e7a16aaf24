package agent

import (
	"context"
	"net/netip"

	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/internal/agent/routes"
)

// startRoutes routes the other nodes' pod CIDRs (host-gw or VXLAN) until
// the returned closer is closed, which removes the routes. An error (no
// permission to change routes) is logged, not fatal: pods still reach the
// pods of their own node.
func startRoutes(ctx context.Context, client kubernetes.Interface, cfg Config, nodeIP string) proxyCloser {
	log := cfg.Logger
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	ip, _ := netip.ParseAddr(nodeIP)
	go func() {
		defer close(done)
		err := routes.Run(rctx, routes.Config{
			Client: client, NodeName: cfg.NodeName, NodeIP: ip, DataDir: cfg.DataDir, Logger: log,
		})
		if err != nil {
			log.Error("routes to other nodes", "err", err)
		}
	}()
	return proxyCloser{cancel: cancel, done: done}
}
