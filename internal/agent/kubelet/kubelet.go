package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/agent/runtime"
	"skiff.dev/skiff/internal/wellknown"
)

// Config configures the kubelet of one node. Zero durations take the
// kubelet's defaults.
type Config struct {
	// Client reaches the API server as the node.
	Client kubernetes.Interface
	// NodeName names the Node; NodeIP is its InternalIP.
	NodeName, NodeIP string
	// DataDir holds pods/, logs/ and kubelet/ (see the agent's layout).
	DataDir string
	// KubeletPort is where the kubelet server listens (on NodeIP), and
	// what the Node's daemonEndpoints report (default 10250).
	KubeletPort int
	// Labels and Taints are added to the Node.
	Labels map[string]string
	Taints []corev1.Taint
	// FakeGPUs, when > 0, advertises that many nvidia.com/gpu instead of
	// the detected devices, and labels the node skiff.dev/fake-gpus=true.
	FakeGPUs int
	// NewRuntime creates the container runtime once the node has a pod
	// CIDR. Its creator owns it: Run does not close it.
	NewRuntime func(ctx context.Context, podCIDR netip.Prefix) (runtime.Runtime, error)
	// ClientCA is the PEM bundle of the cluster CA, which signs the client
	// certificates the kubelet server accepts. Without it the kubelet
	// server is not started.
	ClientCA []byte
	// ServingCertFile and ServingKeyFile are the kubelet server's
	// certificate, signed by the cluster CA at join; without them it serves
	// a self-signed one.
	ServingCertFile, ServingKeyFile string
	Logger                          *slog.Logger
	// Clock defaults to the real clock.
	Clock clock.WithTicker

	// NodeStatusUpdateFrequency is how often the node status is computed
	// (default 10s); it is written when it changed or every
	// NodeStatusReportFrequency (default 5m).
	NodeStatusUpdateFrequency time.Duration
	NodeStatusReportFrequency time.Duration
	// LeaseDuration (default 40s) and LeaseRenewInterval (default 10s) of
	// the node's Lease in kube-node-lease.
	LeaseDuration      time.Duration
	LeaseRenewInterval time.Duration
	// RelistPeriod is how often the runtime is relisted (default 1s).
	RelistPeriod time.Duration
	// ResyncPeriod is how often every pod is synced without a cause
	// (default 10s).
	ResyncPeriod time.Duration
	// BackOffBase and BackOffMax bound the restart and image pull
	// back-off (default 10s doubling to 5m; reset after 2×BackOffMax).
	BackOffBase, BackOffMax time.Duration
	// MaxPods is the node's pod capacity (default 110).
	MaxPods int

	// ClusterDNS are the cluster DNS servers pods with dnsPolicy
	// ClusterFirst get as nameservers; none: such pods get the node's
	// resolv.conf (and a MissingClusterDNS event).
	ClusterDNS []netip.Addr
	// ClusterDomain is the cluster's DNS domain (default cluster.local),
	// the base of a ClusterFirst pod's search line.
	ClusterDomain string
	// DisableDrainWait stops a deleted pod's containers at once, as the
	// kubelet does, instead of first waiting (at most min(grace-2s, 20s))
	// until no node's service proxy routes new connections to the pod.
	DisableDrainWait bool

	// ResolvConf is the node's resolv.conf, what dnsPolicy Default pods
	// get (default /etc/resolv.conf, or systemd-resolved's list of the real
	// servers when that one names only its loopback stub, as k3s does).
	ResolvConf string
}

const (
	fakeGPULabel = wellknown.FakeGPUsLabel
	// gpuResource is the extended resource NVIDIA devices are advertised as.
	gpuResource = wellknown.GPUResource
)

func (c *Config) setDefaults() error {
	if c.Client == nil {
		return errors.New("kubelet: no client")
	}
	if c.NodeName == "" {
		return errors.New("kubelet: no node name")
	}
	if c.NewRuntime == nil {
		return errors.New("kubelet: no runtime")
	}
	if c.DataDir == "" {
		return errors.New("kubelet: no data dir")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.NodeStatusUpdateFrequency, 10*time.Second)
	def(&c.NodeStatusReportFrequency, 5*time.Minute)
	def(&c.LeaseDuration, 40*time.Second)
	def(&c.LeaseRenewInterval, 10*time.Second)
	def(&c.RelistPeriod, time.Second)
	def(&c.ResyncPeriod, 10*time.Second)
	def(&c.BackOffBase, 10*time.Second)
	def(&c.BackOffMax, 5*time.Minute)
	if c.KubeletPort <= 0 {
		c.KubeletPort = 10250
	}
	if c.MaxPods <= 0 {
		c.MaxPods = 110
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = wellknown.ClusterDomain
	}
	if c.ResolvConf == "" {
		c.ResolvConf = defaultResolvConf(c.Logger)
	}
	return nil
}

// Run registers the node and runs its pods until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	log := cfg.Logger.With("node", cfg.NodeName)
	for _, d := range []string{"pods", "logs", "kubelet"} {
		if err := os.MkdirAll(filepath.Join(cfg.DataDir, d), 0o750); err != nil {
			return fmt.Errorf("kubelet data dir: %w", err)
		}
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	n := newNodeAgent(&cfg, log)
	if err := n.register(ctx); err != nil {
		if parent.Err() != nil {
			return nil
		}
		return err
	}
	heartbeats := make(chan struct{})
	go func() {
		defer close(heartbeats)
		n.heartbeat(ctx)
	}()
	defer func() { <-heartbeats }()
	defer cancel()

	cidr, err := n.waitForPodCIDR(ctx)
	if err != nil {
		if parent.Err() != nil {
			return nil
		}
		return err
	}
	log.Info("node has a pod CIDR; starting the container runtime", "podCIDR", cidr)
	rt, err := cfg.NewRuntime(ctx, cidr)
	if err != nil {
		return fmt.Errorf("container runtime: %w", err)
	}
	n.setRuntime(rt)

	d := defaultDeps(&cfg, rt, n, log)
	pm := newPodManager(&cfg, rt, d, n, log)
	errc := make(chan error, 2)
	go func() { errc <- pm.run(ctx) }()
	running := 1
	if cfg.ClientCA != nil && d.serve != nil {
		running++
		go func() {
			err := d.serve(ctx, pm)
			if err != nil && ctx.Err() == nil {
				err = fmt.Errorf("kubelet server: %w", err)
			} else {
				err = nil
			}
			errc <- err
		}()
	} else {
		log.Info("kubelet server not started (no client CA)")
	}
	var first error
	for i := 0; i < running; i++ {
		err := <-errc
		if err != nil && first == nil && parent.Err() == nil {
			first = err
			cancel()
		}
	}
	return first
}

// apiTime is t as an API timestamp (second precision, as stored).
func apiTime(t time.Time) metav1.Time {
	return metav1.NewTime(t.Truncate(time.Second))
}

// requestTimeout bounds the runtime calls made for one server request.
const requestTimeout = 10 * time.Second
