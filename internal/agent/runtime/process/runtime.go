package process

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"

	agentruntime "skiff.dev/skiff/internal/agent/runtime"
)

// Config configures the process runtime.
type Config struct {
	// StateDir holds the runtime's files (<data-dir>/process). Required.
	StateDir string
	// PodCIDR is the node's spec.podCIDR. Pods get addresses from it; when
	// it is not valid, every pod uses the host network.
	PodCIDR netip.Prefix
	// ClusterCIDR is the range of every node's pod CIDR: traffic from this
	// node's pods to it (pods on other nodes) is not masqueraded. Optional;
	// without it only traffic to PodCIDR is exempt.
	ClusterCIDR netip.Prefix
	// BridgeName is the Linux bridge pods are attached to (default "skiff0").
	BridgeName string
	// CgroupRoot is where the cgroup file systems are mounted (default
	// "/sys/fs/cgroup").
	CgroupRoot string
	// NodeIP is the address reported for pods on the host network; when not
	// valid it is the source address of the default route.
	NodeIP netip.Addr
	// Version is reported as the runtime version (default "0.1.0").
	Version string
	// Logger receives the runtime's logs (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock for timestamps (default time.Now).
	Now func() time.Time
}

// RuntimeName is the name Version reports.
const RuntimeName = "process"

// ErrNotFound is wrapped by the errors for unknown sandboxes and
// containers; they also carry the gRPC NotFound code, as containerd's do.
var ErrNotFound = errors.New("not found")

// notFound returns an error for an unknown object of kind (e.g. "container").
func notFound(kind, id string) error {
	return &notFoundError{msg: fmt.Sprintf("%s %q not found", kind, id)}
}

type notFoundError struct{ msg string }

func (e *notFoundError) Error() string              { return e.msg }
func (e *notFoundError) Is(target error) bool       { return target == ErrNotFound }
func (e *notFoundError) GRPCStatus() *status.Status { return status.New(codes.NotFound, e.msg) }

// Runtime is the process runtime. It implements runtime.Runtime,
// runtime.Closer and runtime.FeatureReporter.
type Runtime struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	net    *network // nil without a pod CIDR
	cg     *cgroups
	nodeIP string

	stream     streaming.Server
	streamBase string
	httpServer *http.Server

	hostNetOnce sync.Once
	hostMntOnce sync.Once
	layers      *layers

	mu         sync.Mutex
	sandboxes  map[string]*sandbox
	containers map[string]*container
	closed     bool
}

var (
	_ agentruntime.Runtime         = (*Runtime)(nil)
	_ agentruntime.Closer          = (*Runtime)(nil)
	_ agentruntime.FeatureReporter = (*Runtime)(nil)
)

// Features declares that containers run on the host: they see the host's
// devices (CUDA_VISIBLE_DEVICES picks the GPUs) and its file system.
func (r *Runtime) Features() agentruntime.Features {
	return agentruntime.Features{HostDeviceEnv: true, HostFilesystem: true}
}

// New returns a process runtime. It first cleans up whatever a previous
// runtime with the same StateDir left behind (processes, namespaces, veths,
// cgroups), then starts the streaming server on 127.0.0.1.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("process runtime: StateDir is required")
	}
	if cfg.BridgeName == "" {
		cfg.BridgeName = "skiff0"
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = "/sys/fs/cgroup"
	}
	if cfg.Version == "" {
		cfg.Version = "0.1.0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("process runtime: %w", err)
	}
	r := &Runtime{
		cfg:        cfg,
		log:        cfg.Logger,
		now:        cfg.Now,
		cg:         newCgroups(cfg.CgroupRoot, cfg.Logger),
		layers:     &layers{log: cfg.Logger},
		sandboxes:  map[string]*sandbox{},
		containers: map[string]*container{},
	}
	if cfg.PodCIDR.IsValid() {
		n, err := newNetwork(cfg.StateDir, cfg.BridgeName, cfg.PodCIDR, cfg.ClusterCIDR, cfg.Logger)
		if err != nil {
			return nil, fmt.Errorf("process runtime: %w", err)
		}
		r.net = n
	}
	r.nodeIP = detectNodeIP(cfg.NodeIP)
	r.cleanupLeftovers(ctx)

	if err := r.startStreaming(); err != nil {
		return nil, fmt.Errorf("process runtime: %w", err)
	}
	r.log.Info("process runtime ready", "stateDir", cfg.StateDir, "podCIDR", cfg.PodCIDR, "bridge", cfg.BridgeName)
	return r, nil
}

func (r *Runtime) startStreaming() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("streaming server: %w", err)
	}
	scfg := streaming.DefaultConfig
	scfg.Addr = l.Addr().String()
	scfg.BaseURL = &url.URL{Scheme: "http", Host: l.Addr().String()}
	srv, err := streaming.NewServer(scfg, &streamRuntime{r: r})
	if err != nil {
		l.Close()
		return fmt.Errorf("streaming server: %w", err)
	}
	r.stream = srv
	r.streamBase = scfg.BaseURL.String()
	r.httpServer = &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		if err := r.httpServer.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("process runtime: streaming server stopped", "err", err)
		}
	}()
	return nil
}

// detectNodeIP returns want, or the source address of the default route,
// or the first global address of the host.
func detectNodeIP(want netip.Addr) string {
	if want.IsValid() {
		return want.String()
	}
	if routes, err := netlink.RouteGet(net.IPv4(8, 8, 8, 8)); err == nil {
		for _, rt := range routes {
			if rt.Src != nil {
				return rt.Src.String()
			}
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.IsGlobalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// StreamingURL is the base URL of the runtime's streaming server.
func (r *Runtime) StreamingURL() string { return r.streamBase }

// Version reports the runtime's name and version.
func (r *Runtime) Version(ctx context.Context, apiVersion string) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{
		Version:           "0.1.0",
		RuntimeName:       RuntimeName,
		RuntimeVersion:    r.cfg.Version,
		RuntimeApiVersion: "v1",
	}, nil
}

// ImageStatus reports every image as present: the process runtime has no
// images and runs the container's command on the host. The image's user is
// the agent's, as a container without runAsUser runs as the agent does.
func (r *Runtime) ImageStatus(ctx context.Context, image *runtimeapi.ImageSpec, verbose bool) (*runtimeapi.ImageStatusResponse, error) {
	name := image.GetImage()
	return &runtimeapi.ImageStatusResponse{Image: &runtimeapi.Image{
		Id: name, RepoTags: []string{name}, Spec: image, Uid: &runtimeapi.Int64Value{Value: int64(os.Geteuid())},
	}}, nil
}

// PullImage does nothing and returns the image name as its reference.
func (r *Runtime) PullImage(ctx context.Context, image *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, podSandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	return image.GetImage(), nil
}

// Close kills every process the runtime started and removes the network
// namespaces, veths, bridge and cgroups it made.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	ids := make([]string, 0, len(r.sandboxes))
	for id := range r.sandboxes {
		ids = append(ids, id)
	}
	r.mu.Unlock()

	var errs []error
	for _, id := range ids {
		if err := r.RemovePodSandbox(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	// Containers whose sandbox is gone (should not happen) are killed too.
	r.mu.Lock()
	var orphans []*container
	for _, c := range r.containers {
		orphans = append(orphans, c)
	}
	r.mu.Unlock()
	for _, c := range orphans {
		if err := r.RemoveContainer(ctx, c.id); err != nil {
			errs = append(errs, err)
		}
	}
	if r.net != nil {
		if err := r.net.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if r.httpServer != nil {
		_ = r.httpServer.Close()
	}
	return errors.Join(errs...)
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// matchLabels reports whether labels has every key/value of selector.
func matchLabels(labels, selector map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
