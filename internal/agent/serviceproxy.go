package agent

import (
	"context"
	"net/netip"

	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/internal/agent/proxy"
)

// startServiceProxy runs the node's service proxy until the returned
// closer is closed. Masquerading is decided by the cluster CIDR (the
// node's pod CIDR when the server published none): traffic to a Service
// from outside it is masqueraded, traffic between pods is not. An error of the
// proxy (nft missing, no permission) is logged, not fatal: pods still run,
// and the node is simply not labelled as serving Services.
func startServiceProxy(ctx context.Context, client kubernetes.Interface, cfg Config, nodeIP string, podCIDR, clusterCIDR netip.Prefix) componentCloser {
	var ips []netip.Addr
	if a, err := netip.ParseAddr(nodeIP); err == nil {
		ips = append(ips, a)
	}
	return startComponent(ctx, cfg.Logger, "service proxy", func(ctx context.Context) error {
		p, err := proxy.New(proxy.Config{
			Client: client, NodeName: cfg.NodeName, NodeIPs: ips, PodCIDR: podCIDR, ClusterCIDR: clusterCIDR,
			DataDir: cfg.DataDir, LabelNode: true, Logger: cfg.Logger,
		})
		if err != nil {
			return err
		}
		return p.Run(ctx)
	})
}
