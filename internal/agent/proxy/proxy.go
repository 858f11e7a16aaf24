package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/knftables"

	"skiff.dev/skiff/internal/agent/localname"
	"skiff.dev/skiff/internal/wellknown"
)

// Defaults of Config's timing knobs.
const (
	DefaultMinSyncInterval  = 10 * time.Millisecond
	DefaultFullSyncInterval = time.Hour
	retryInterval           = time.Second
	sliceServiceIndex       = "service"
	routeLocalnetSysctl     = "net/ipv4/conf/all/route_localnet"
)

// Config configures a node's service proxy.
type Config struct {
	// Client reaches the API server (as the node).
	Client kubernetes.Interface
	// NodeName is this node; endpoints on it are local.
	NodeName string
	// NodeIPs are the node's addresses, where NodePorts and health check
	// ports answer (127.0.0.1 is added for NodePorts).
	NodeIPs []netip.Addr
	// ClusterCIDR: traffic to a ClusterIP from outside it is masqueraded.
	// Optional; without it PodCIDR is used, and without both all of it is.
	ClusterCIDR netip.Prefix
	// PodCIDR is this node's pod network (bridge reflection masquerade).
	PodCIDR netip.Prefix
	// TableName names the nftables table; default TableName(NodeName,
	// DataDir).
	TableName string
	// DataDir makes the default table name unique per agent.
	DataDir string
	// LabelNode labels the Node wellknown.ServiceProxyLabel=true once the
	// rules are in the kernel, keeps its
	// wellknown.ServiceProxySyncedAnnotation (the EndpointSlice revision in
	// the kernel, written at most once per AckInterval, default
	// DefaultAckInterval), and removes both on a clean stop.
	LabelNode   bool
	AckInterval time.Duration
	// KeepRules leaves the table in the kernel when Run returns.
	KeepRules bool
	// MinSyncInterval coalesces changes (default 10ms); FullSyncInterval
	// is the period of the full resync (default 1h).
	MinSyncInterval, FullSyncInterval time.Duration
	// NFT overrides the nftables interface (tests).
	NFT knftables.Interface
	// SetSysctl writes a sysctl ("net/ipv4/..."); ReadSysctl reads one.
	// Default: /proc/sys.
	SetSysctl  func(name, value string) error
	ReadSysctl func(name string) (string, error)
	Logger     *slog.Logger
}

// TableName is the table of the proxy of node nodeName whose agent keeps
// its state in dataDir: several agents on one host never share a table.
func TableName(nodeName, dataDir string) string {
	return localname.For("skiff-", nodeName, dataDir)
}

func (c *Config) defaulted() Config {
	d := *c
	if d.TableName == "" {
		d.TableName = TableName(d.NodeName, d.DataDir)
	}
	if d.MinSyncInterval == 0 {
		d.MinSyncInterval = DefaultMinSyncInterval
	}
	if d.FullSyncInterval == 0 {
		d.FullSyncInterval = DefaultFullSyncInterval
	}
	if d.AckInterval == 0 {
		d.AckInterval = DefaultAckInterval
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.SetSysctl == nil {
		d.SetSysctl = func(name, value string) error {
			return os.WriteFile("/proc/sys/"+name, []byte(value), 0o644)
		}
	}
	if d.ReadSysctl == nil {
		d.ReadSysctl = func(name string) (string, error) {
			b, err := os.ReadFile("/proc/sys/" + name)
			return strings.TrimSpace(string(b)), err
		}
	}
	return d
}

func (c *Config) netInfo() netInfo {
	n := netInfo{MasqCIDR: c.ClusterCIDR, PodCIDR: c.PodCIDR}
	if !n.MasqCIDR.IsValid() {
		n.MasqCIDR = c.PodCIDR
	}
	for _, a := range c.NodeIPs {
		if a.Is4() {
			n.NodePortIPs = append(n.NodePortIPs, a)
		}
	}
	n.NodePortIPs = dedupAddrs(append(n.NodePortIPs, netip.MustParseAddr("127.0.0.1")))
	return n
}

// Proxy is a running service proxy.
type Proxy struct {
	cfg     Config
	net     netInfo
	log     *slog.Logger
	nft     knftables.Interface
	app     *applier
	health  *healthServers
	metrics *syncMetrics

	services corelisters.ServiceLister
	slices   cache.Indexer

	// afterSync, when set (tests, benchmarks), is told which Services a
	// sync wrote, once they are in the kernel.
	afterSync func(keys []serviceKey)

	// ack publishes the programmed EndpointSlice revision (LabelNode).
	ack *acker

	mu    sync.Mutex
	dirty map[serviceKey]bool
	// seenRV is the newest EndpointSlice resourceVersion the informer
	// delivered.
	seenRV int64
	wake   chan struct{}
	synced chan struct{}
}

// New checks the configuration and that nftables works.
func New(cfg Config) (*Proxy, error) {
	c := cfg.defaulted()
	if c.Client == nil || c.NodeName == "" {
		return nil, errors.New("service proxy: Client and NodeName are required")
	}
	nft := c.NFT
	if nft == nil {
		var err error
		if nft, err = knftables.New(knftables.IPv4Family, c.TableName); err != nil {
			return nil, fmt.Errorf("service proxy: nftables: %w", err)
		}
	}
	n := c.netInfo()
	p := &Proxy{
		cfg: c, net: n, log: c.Logger.With("component", "service-proxy", "table", c.TableName), nft: nft,
		app:     newApplier(nft, planBase(n)),
		health:  newHealthServers(n.NodePortIPs, c.Logger),
		metrics: processMetrics(),
		dirty:   map[serviceKey]bool{}, wake: make(chan struct{}, 1), synced: make(chan struct{}),
	}
	if c.LabelNode {
		p.ack = newAcker(c.Client, c.NodeName, c.AckInterval, p.log)
	}
	return p, nil
}

// Synced is closed once the rules of every Service are in the kernel.
func (p *Proxy) Synced() <-chan struct{} { return p.synced }

// Run programs the kernel until ctx ends, then removes the table (unless
// KeepRules) and the node label.
func (p *Proxy) Run(ctx context.Context) error {
	if err := p.ensureRouteLocalnet(); err != nil {
		p.log.Warn("NodePorts on 127.0.0.1 will not answer", "err", err)
	}
	factory := informers.NewSharedInformerFactory(p.cfg.Client, 0)
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices().Informer()
	if err := sliceInf.AddIndexers(cache.Indexers{sliceServiceIndex: sliceService}); err != nil {
		return fmt.Errorf("service proxy: %w", err)
	}
	p.services, p.slices = svcInf.Lister(), sliceInf.GetIndexer()
	if _, err := svcInf.Informer().AddEventHandler(p.handler(func(obj any) (serviceKey, bool) {
		s, ok := obj.(*corev1.Service)
		if !ok {
			return serviceKey{}, false
		}
		return serviceKey{Namespace: s.Namespace, Name: s.Name}, true
	})); err != nil {
		return fmt.Errorf("service proxy: %w", err)
	}
	if _, err := sliceInf.AddEventHandler(p.handler(func(obj any) (serviceKey, bool) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
			return serviceKey{}, false
		}
		return serviceKey{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}, true
	})); err != nil {
		return fmt.Errorf("service proxy: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if p.ack != nil {
		actx, stop := context.WithCancel(ctx)
		acked := make(chan struct{})
		go func() {
			defer close(acked)
			p.ack.run(actx)
		}()
		defer func() { stop(); <-acked }()
	}
	if !cache.WaitForCacheSync(ctx.Done(), svcInf.Informer().HasSynced, sliceInf.HasSynced) {
		return p.cleanup(ctx)
	}
	err := p.loop(ctx)
	if cerr := p.cleanup(ctx); err == nil {
		err = cerr
	}
	return err
}

func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
}

func (p *Proxy) handler(keyOf func(any) (serviceKey, bool)) cache.ResourceEventHandler {
	mark := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		k, ok := keyOf(obj)
		// A slice's revision is noted with its Service marked dirty, in
		// one step: the loop acknowledges a revision only with the changes
		// up to it (and wakes for a revision alone, even when it changes no
		// rule, so that it is acknowledged).
		var rv int64
		if sl, isSlice := obj.(*discoveryv1.EndpointSlice); isSlice {
			rv = sliceRevision(sl)
		}
		p.mu.Lock()
		if ok {
			p.dirty[k] = true
		}
		grew := rv > p.seenRV
		if grew {
			p.seenRV = rv
		}
		p.mu.Unlock()
		if ok || (grew && p.ack != nil) {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { mark(obj) },
		UpdateFunc: func(_, obj any) { mark(obj) },
		DeleteFunc: mark,
	}
}

// planFor computes the plan of one Service from the caches; nil when the
// Service is gone or has nothing to program.
func (p *Proxy) planFor(k serviceKey) (*servicePlan, error) {
	svc, err := p.services.Services(k.Namespace).Get(k.Name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", k, err)
	}
	objs, err := p.slices.ByIndex(sliceServiceIndex, k.Namespace+"/"+k.Name)
	if err != nil {
		return nil, fmt.Errorf("endpoint slices of %s: %w", k, err)
	}
	slices := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			slices = append(slices, s)
		}
	}
	ports := servicePortsFor(svc, slices, p.cfg.NodeName)
	if len(ports) == 0 {
		return nil, nil
	}
	plan := planService(ports, p.net)
	return &plan, nil
}

func (p *Proxy) allPlans() (map[serviceKey]servicePlan, error) {
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	plans := make(map[serviceKey]servicePlan, len(svcs))
	for _, s := range svcs {
		k := serviceKey{Namespace: s.Namespace, Name: s.Name}
		pl, err := p.planFor(k)
		if err != nil {
			return nil, err
		}
		if pl != nil {
			plans[k] = *pl
		}
	}
	return plans, nil
}

// loop syncs: everything at start and every FullSyncInterval, the changed
// Services in between, at most once per MinSyncInterval.
func (p *Proxy) loop(ctx context.Context) error {
	full, fresh := true, true
	fullTick := time.NewTicker(p.cfg.FullSyncInterval)
	defer fullTick.Stop()
	var last time.Time
	for {
		if !full {
			select {
			case <-ctx.Done():
				return nil
			case <-fullTick.C:
				full = true
			case <-p.wake:
			}
		}
		if wait := time.Until(last.Add(p.cfg.MinSyncInterval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		p.mu.Lock()
		dirty, seen := p.dirty, p.seenRV
		p.dirty = map[serviceKey]bool{}
		p.mu.Unlock()
		last = time.Now()
		err := p.syncOnce(ctx, dirty, full, fresh)
		p.metrics.synced(last, time.Now(), full, err != nil)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.log.Error("syncing service rules; retrying with a full sync", "err", err)
			full = true
			t := time.NewTimer(retryInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		if fresh {
			p.log.Info("service rules in the kernel", "services", len(p.app.applied), "took", time.Since(last))
			close(p.synced)
			if p.cfg.LabelNode {
				go p.labelNode(ctx)
			}
		}
		if p.ack != nil {
			p.ack.set(seen)
		}
		full, fresh = false, false
	}
}

func (p *Proxy) syncOnce(ctx context.Context, dirty map[serviceKey]bool, full, fresh bool) error {
	if full {
		plans, err := p.allPlans()
		if err != nil {
			return err
		}
		if err := p.app.syncAll(ctx, plans, fresh); err != nil {
			return err
		}
	} else if len(dirty) > 0 {
		changes := make(map[serviceKey]*servicePlan, len(dirty))
		for k := range dirty {
			pl, err := p.planFor(k)
			if err != nil {
				return err
			}
			if _, had := p.app.applied[k]; pl == nil && !had {
				continue
			}
			changes[k] = pl
		}
		if err := p.app.update(ctx, changes); err != nil {
			return err
		}
		if p.afterSync != nil {
			keys := make([]serviceKey, 0, len(changes))
			for k := range changes {
				keys = append(keys, k)
			}
			p.afterSync(keys)
		}
	}
	want := map[serviceKey]healthCheck{}
	for k, pl := range p.app.applied {
		if pl.Health != nil {
			want[k] = *pl.Health
		}
	}
	p.health.sync(want)
	return nil
}

func (p *Proxy) ensureRouteLocalnet() error {
	v, err := p.cfg.ReadSysctl(routeLocalnetSysctl)
	if err != nil {
		return fmt.Errorf("reading %s: %w", routeLocalnetSysctl, err)
	}
	if v == "1" {
		return nil
	}
	p.log.Info("setting sysctl for NodePorts on 127.0.0.1", "sysctl", routeLocalnetSysctl, "value", 1)
	if err := p.cfg.SetSysctl(routeLocalnetSysctl, "1"); err != nil {
		return fmt.Errorf("setting %s: %w", routeLocalnetSysctl, err)
	}
	return nil
}

// labelNode marks the Node as served by this proxy, retrying until it
// succeeds or ctx ends.
func (p *Proxy) labelNode(ctx context.Context) {
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:"true"}}}`, wellknown.ServiceProxyLabel)
	for {
		_, err := p.cfg.Client.CoreV1().Nodes().Patch(ctx, p.cfg.NodeName, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("labelling the node", "label", wellknown.ServiceProxyLabel, "err", err)
		t := time.NewTimer(retryInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// cleanup removes what the proxy made: its health servers, its table
// (unless KeepRules) and its node label.
func (p *Proxy) cleanup(ctx context.Context) error {
	p.health.closeAll()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var err error
	if !p.cfg.KeepRules {
		err = deleteTable(cctx, p.nft)
	}
	if p.cfg.LabelNode {
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:null},"annotations":{%q:null}}}`, wellknown.ServiceProxyLabel, wellknown.ServiceProxySyncedAnnotation)
		if _, perr := p.cfg.Client.CoreV1().Nodes().Patch(cctx, p.cfg.NodeName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); perr != nil && !apierrors.IsNotFound(perr) {
			p.log.Warn("removing the node label", "label", wellknown.ServiceProxyLabel, "err", perr)
		}
	}
	return err
}
