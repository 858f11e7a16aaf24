package routes

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"reflect"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/internal/agent/localname"
	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/wellknown"
)

// DefaultResyncInterval is how often the routes are checked against the
// kernel without a Node change (a route someone deleted, an address that
// came or went).
const DefaultResyncInterval = 30 * time.Second

// Config configures a node's routes.
type Config struct {
	// Client reaches the API server (as the node).
	Client kubernetes.Interface
	// NodeName is this node: its pod CIDR gives the VTEP address, and it
	// is not routed to.
	NodeName string
	// NodeIP is this node's InternalIP, the VXLAN source address.
	NodeIP netip.Addr
	// DeviceName is the vxlan device's name; default DeviceName(NodeName,
	// DataDir).
	DeviceName string
	// DataDir makes the default device name unique per agent.
	DataDir string
	// ResyncInterval: default DefaultResyncInterval.
	ResyncInterval time.Duration
	// Handle is the netlink handle of the network namespace to route in;
	// default: the agent's own.
	Handle *netlink.Handle
	Logger *slog.Logger
}

// DeviceName names the vxlan device of the agent of node nodeName whose
// state is in dataDir (Linux allows 15 characters).
func DeviceName(nodeName, dataDir string) string {
	return localname.For("skv", nodeName, dataDir)
}

// Run routes the other nodes' pod CIDRs until ctx ends, then removes the
// routes and the vxlan device it made.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DeviceName == "" {
		cfg.DeviceName = DeviceName(cfg.NodeName, cfg.DataDir)
	}
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = DefaultResyncInterval
	}
	h := cfg.Handle
	if h == nil {
		var err error
		if h, err = netlink.NewHandle(); err != nil {
			return fmt.Errorf("routes: netlink: %w", err)
		}
		defer h.Close()
	}
	log := cfg.Logger.With("component", "routes")
	app := &applier{h: h, device: cfg.DeviceName}
	defer func() {
		if err := app.cleanup(); err != nil {
			log.Warn("removing the routes to other nodes", "err", err)
		} else {
			log.Info("removed the routes to other nodes")
		}
	}()

	factory := informers.NewSharedInformerFactory(cfg.Client, cfg.ResyncInterval)
	nodes := factory.Core().V1().Nodes()
	q := queue.New[string]("routes", nil)
	const key = "sync"
	if _, err := nodes.Informer().AddEventHandler(queue.OnEvery(func(any) { q.Add(key) })); err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	s := &syncer{cfg: cfg, app: app, nodes: nodes.Lister(), log: log}
	queue.RunWorkers(ctx, []cache.InformerSynced{nodes.Informer().HasSynced}, queue.Worker[string]{
		Queue: q, Log: log,
		SyncAfter: func(context.Context, string) (time.Duration, error) {
			return cfg.ResyncInterval, s.sync()
		},
	})
	return nil
}

// syncer computes the plan from the Node cache and the host's addresses
// and applies it.
type syncer struct {
	cfg   Config
	app   *applier
	nodes corelisters.NodeLister
	log   *slog.Logger
	last  Plan
}

func (s *syncer) sync() error {
	all, err := s.nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	self, peers := Peers(s.cfg.NodeName, all)
	if s.cfg.NodeIP.IsValid() {
		self.InternalIP = s.cfg.NodeIP
	}
	local, err := s.app.localAddrs()
	if err != nil {
		return err
	}
	p := Decide(self, peers, local)
	if err := s.app.apply(p); err != nil {
		return err
	}
	if !reflect.DeepEqual(p.Routes, s.last.Routes) || !maps.Equal(p.Skipped, s.last.Skipped) {
		for _, r := range p.Routes {
			s.log.Info("route to node", "node", r.Node, "podCIDR", r.Dst, "via", r.Gateway, "mode", r.Mode)
		}
		for n, why := range p.Skipped {
			s.log.Debug("no route to node", "node", n, "reason", why)
		}
	}
	s.last = p
	return nil
}

// Peers splits the Nodes into this node (name) and the others, reading
// each one's first pod CIDR and its InternalIP. Simulated nodes are left
// out: their addresses lead nowhere.
func Peers(name string, nodes []*corev1.Node) (Self, []Peer) {
	var self Self
	var peers []Peer
	for _, n := range nodes {
		if n.Labels[wellknown.SimulatedLabel] == "true" {
			continue
		}
		p := Peer{Name: n.Name}
		if cidr, err := netip.ParsePrefix(n.Spec.PodCIDR); err == nil {
			p.PodCIDR = cidr
		}
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is4() {
				p.InternalIP = ip
				break
			}
		}
		if n.Name == name {
			self = Self{PodCIDR: p.PodCIDR, InternalIP: p.InternalIP}
			continue
		}
		peers = append(peers, p)
	}
	return self, peers
}
