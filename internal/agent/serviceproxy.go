package agent

import (
	"context"
	"net/netip"

	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/internal/agent/netpol"
	"skiff.dev/skiff/internal/agent/proxy"
)

// proxyCloser stops a node component (the service proxy, the routes) and
// waits for it to remove its rules.
type proxyCloser struct {
	cancel context.CancelFunc
	done   <-chan struct{}
}

func (p proxyCloser) Close(ctx context.Context) error {
	p.cancel()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startServiceProxy runs the node's service proxy until the returned
// closer is closed. Masquerading is decided by the cluster CIDR (the
// node's pod CIDR when the server published none): traffic to a Service
// from outside it is masqueraded, traffic between pods is not. An error of the
// proxy (nft missing, no permission) is logged, not fatal: pods still run,
// and the node is simply not labelled as serving Services.
func startServiceProxy(ctx context.Context, client kubernetes.Interface, cfg Config, nodeIP string, podCIDR, clusterCIDR netip.Prefix) proxyCloser {
	log := cfg.Logger
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	var ips []netip.Addr
	if a, err := netip.ParseAddr(nodeIP); err == nil {
		ips = append(ips, a)
	}
	go func() {
		defer close(done)
		p, err := proxy.New(proxy.Config{
			Client: client, NodeName: cfg.NodeName, NodeIPs: ips, PodCIDR: podCIDR, ClusterCIDR: clusterCIDR,
			DataDir: cfg.DataDir, LabelNode: true, Logger: log,
		})
		if err == nil {
			err = p.Run(pctx)
		}
		if err != nil {
			log.Error("service proxy", "err", err)
		}
	}()
	return proxyCloser{cancel: cancel, done: done}
}

// startNetworkPolicy enforces NetworkPolicies for this node's pods until
// the returned closer is closed (which removes the rules). As with the
// service proxy, an error (nft missing, no permission) is logged, not
// fatal.
func startNetworkPolicy(ctx context.Context, client kubernetes.Interface, cfg Config) proxyCloser {
	log := cfg.Logger
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := netpol.New(netpol.Config{Client: client, NodeName: cfg.NodeName, DataDir: cfg.DataDir, Logger: log})
		if err == nil {
			err = c.Run(pctx)
		}
		if err != nil {
			log.Error("network policy", "err", err)
		}
	}()
	return proxyCloser{cancel: cancel, done: done}
}
