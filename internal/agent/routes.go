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
func startRoutes(ctx context.Context, client kubernetes.Interface, cfg Config, nodeIP string) componentCloser {
	ip, _ := netip.ParseAddr(nodeIP)
	return startComponent(ctx, cfg.Logger, "routes to other nodes", func(ctx context.Context) error {
		return routes.Run(ctx, routes.Config{
			Client: client, NodeName: cfg.NodeName, NodeIP: ip, DataDir: cfg.DataDir, Logger: cfg.Logger,
		})
	})
}
