package agent

import (
	"context"

	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/internal/agent/netpol"
)

// startNetworkPolicy enforces NetworkPolicies for this node's pods until
// the returned closer is closed (which removes the rules). As with the
// service proxy, an error (nft missing, no permission) is logged, not
// fatal.
func startNetworkPolicy(ctx context.Context, client kubernetes.Interface, cfg Config) componentCloser {
	return startComponent(ctx, cfg.Logger, "network policy", func(ctx context.Context) error {
		c, err := netpol.New(netpol.Config{Client: client, NodeName: cfg.NodeName, DataDir: cfg.DataDir, Logger: cfg.Logger})
		if err != nil {
			return err
		}
		return c.Run(ctx)
	})
}
