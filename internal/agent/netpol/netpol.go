package netpol

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/knftables"

	"skiff.dev/skiff/internal/agent/localname"
	"skiff.dev/skiff/internal/controller/queue"
)

// Defaults of Config's timing knobs.
const (
	DefaultMinSyncInterval = 10 * time.Millisecond
	retryInterval          = time.Second
	bridgeSysctl           = "net/bridge/bridge-nf-call-iptables"
)

// Config configures a node's NetworkPolicy enforcement.
type Config struct {
	// Client reaches the API server (as the node).
	Client kubernetes.Interface
	// NodeName is this node: its pods are the ones policed here.
	NodeName string
	// DataDir makes the default table name unique per agent.
	DataDir string
	// TableName names the nftables table; default TableName(NodeName, DataDir).
	TableName string
	// MinSyncInterval coalesces changes (default 10ms).
	MinSyncInterval time.Duration
	// NFT overrides the nftables interface (tests).
	NFT knftables.Interface
	// ReadSysctl and SetSysctl read and write a sysctl ("net/..."); default
	// /proc/sys.
	ReadSysctl func(name string) (string, error)
	SetSysctl  func(name, value string) error
	Logger     *slog.Logger
}

// TableName is the table of the policy enforcement of node nodeName whose
// agent keeps its state in dataDir.
func TableName(nodeName, dataDir string) string {
	return localname.For("skiff-netpol-", nodeName, dataDir)
}

func (c *Config) defaulted() Config {
	d := *c
	if d.TableName == "" {
		d.TableName = TableName(d.NodeName, d.DataDir)
	}
	if d.MinSyncInterval == 0 {
		d.MinSyncInterval = DefaultMinSyncInterval
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.ReadSysctl == nil {
		d.ReadSysctl = func(name string) (string, error) {
			b, err := os.ReadFile("/proc/sys/" + name)
			return strings.TrimSpace(string(b)), err
		}
	}
	if d.SetSysctl == nil {
		d.SetSysctl = func(name, value string) error {
			return os.WriteFile("/proc/sys/"+name, []byte(value), 0o644)
		}
	}
	return d
}

// Controller enforces NetworkPolicies on one node.
type Controller struct {
	cfg Config
	log *slog.Logger
	nft knftables.Interface
	app applier

	policies   networkinglisters.NetworkPolicyLister
	pods       corelisters.PodLister
	namespaces corelisters.NamespaceLister

	wake   chan struct{}
	synced chan struct{}
	// afterSync, when set (tests, benchmarks), is given each plan once it
	// is in the kernel.
	afterSync func(Plan)
}

// New checks the configuration and that nftables works.
func New(cfg Config) (*Controller, error) {
	c := cfg.defaulted()
	if c.Client == nil || c.NodeName == "" {
		return nil, errors.New("network policy: Client and NodeName are required")
	}
	nft := c.NFT
	if nft == nil {
		var err error
		if nft, err = knftables.New(knftables.IPv4Family, c.TableName); err != nil {
			return nil, fmt.Errorf("network policy: nftables: %w", err)
		}
	}
	return &Controller{
		cfg: c, log: c.Logger.With("component", "network-policy", "table", c.TableName), nft: nft,
		app: applier{nft: nft}, wake: make(chan struct{}, 1), synced: make(chan struct{}),
	}, nil
}

// Synced is closed once the first plan is in the kernel.
func (c *Controller) Synced() <-chan struct{} { return c.synced }

// Run programs the kernel until ctx ends, then removes the table.
func (c *Controller) Run(ctx context.Context) error {
	c.ensureBridgeNetfilter()
	factory := informers.NewSharedInformerFactory(c.cfg.Client, 0)
	npInf := factory.Networking().V1().NetworkPolicies()
	podInf := factory.Core().V1().Pods()
	nsInf := factory.Core().V1().Namespaces()
	c.policies, c.pods, c.namespaces = npInf.Lister(), podInf.Lister(), nsInf.Lister()
	h := queue.OnEvery(func(any) { c.poke() })
	for _, inf := range []cache.SharedIndexInformer{npInf.Informer(), podInf.Informer(), nsInf.Informer()} {
		if _, err := inf.AddEventHandler(h); err != nil {
			return fmt.Errorf("network policy: %w", err)
		}
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if cache.WaitForCacheSync(ctx.Done(), npInf.Informer().HasSynced, podInf.Informer().HasSynced, nsInf.Informer().HasSynced) {
		c.loop(ctx)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return deleteTable(cctx, c.nft)
}

// ensureBridgeNetfilter makes bridged traffic between pods of this node
// pass the ip family's hooks (see the package doc).
func (c *Controller) ensureBridgeNetfilter() {
	v, err := c.cfg.ReadSysctl(bridgeSysctl)
	if err != nil {
		c.log.Warn("br_netfilter is not loaded: traffic between pods of this node is not policed", "err", err)
		return
	}
	if v == "1" {
		return
	}
	c.log.Info("setting sysctl so that bridged pod traffic is policed", "sysctl", bridgeSysctl, "value", 1)
	if err := c.cfg.SetSysctl(bridgeSysctl, "1"); err != nil {
		c.log.Warn("traffic between pods of this node is not policed", "sysctl", bridgeSysctl, "err", err)
	}
}

// plan computes the plan from the caches.
func (c *Controller) plan() (Plan, error) {
	nps, err := c.policies.List(labels.Everything())
	if err != nil {
		return Plan{}, fmt.Errorf("listing network policies: %w", err)
	}
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return Plan{}, fmt.Errorf("listing pods: %w", err)
	}
	nss, err := c.namespaces.List(labels.Everything())
	if err != nil {
		return Plan{}, fmt.Errorf("listing namespaces: %w", err)
	}
	return Compute(nps, pods, nss, c.cfg.NodeName), nil
}

// loop syncs at start and after every change, at most once per
// MinSyncInterval; a failed sync rewrites the whole table a second later.
func (c *Controller) loop(ctx context.Context) {
	var last time.Time
	first := true
	for {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-c.wake:
			}
		}
		if wait := time.Until(last.Add(c.cfg.MinSyncInterval)); wait > 0 {
			if !sleep(ctx, wait) {
				return
			}
		}
		last = time.Now()
		plan, err := c.plan()
		if err == nil {
			err = c.app.apply(ctx, plan)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.Error("syncing network policy rules; retrying", "err", err)
			if !sleep(ctx, retryInterval) {
				return
			}
			c.poke()
			continue
		}
		if first {
			c.log.Info("network policy rules in the kernel", "isolatedIngress", len(plan.IngressPods), "isolatedEgress", len(plan.EgressPods), "took", time.Since(last))
			close(c.synced)
			first = false
		}
		if c.afterSync != nil {
			c.afterSync(plan)
		}
	}
}

func (c *Controller) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
