package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel/trace/noop"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	criclient "k8s.io/cri-client/pkg"
	"k8s.io/klog/v2"

	"skiff.dev/skiff/internal/agent/runtime"
)

const (
	// requestTimeout bounds each CRI call (twice that for RunPodSandbox),
	// as the kubelet's default --runtime-request-timeout.
	requestTimeout = 2 * time.Minute
	// imageVisibleTimeout bounds the wait for an imported image to show
	// in the CRI plugin's image list.
	imageVisibleTimeout = 10 * time.Second
	// closeParallelism is how many sandboxes Close stops at once.
	closeParallelism = 4
	// closeTimeout bounds how long Close spends on removing the sandboxes.
	closeTimeout = time.Minute
)

var (
	_ runtime.Runtime = (*Runtime)(nil)
	_ runtime.Closer  = (*Runtime)(nil)

	// The CRI client satisfies the contract's parts as they are.
	_ runtime.SandboxManager   = internalapi.RuntimeService(nil)
	_ runtime.ContainerManager = internalapi.RuntimeService(nil)
	_ runtime.StreamingRuntime = internalapi.RuntimeService(nil)
	_ runtime.ImageManager     = internalapi.ImageManagerService(nil)
)

// Runtime runs pods in containerd through the CRI.
type Runtime struct {
	cfg    Config
	log    *slog.Logger
	klog   logr.Logger // what k8s.io/cri-client logs, at debug level
	rt     internalapi.RuntimeService
	img    internalapi.ImageManagerService
	daemon *daemon // the containerd this runtime started, nil for Endpoint

	mu            sync.Mutex
	cgroupParents map[string]bool // of the sandboxes run, removed on Close

	closeOnce sync.Once
	closeErr  error
}

// New connects to cfg.Endpoint or, without one, starts a containerd of its
// own under cfg.StateDir with the pod network on cfg.PodCIDR and imports
// the pause image; Close stops that containerd and cleans up after it.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg.setDefaults()
	if cfg.Endpoint == "" {
		if !Available() {
			return nil, errors.New("containerd is not installed")
		}
		if err := cfg.validate(); err != nil {
			return nil, err
		}
	}
	r := &Runtime{
		cfg:           cfg,
		log:           cfg.Logger,
		klog:          logr.FromSlogHandler(debugHandler{cfg.Logger.With("component", "cri-client").Handler()}),
		cgroupParents: map[string]bool{},
	}
	if cfg.Endpoint != "" {
		if err := r.connect(ctx, cfg.Endpoint); err != nil {
			return nil, err
		}
		r.log.Info("using the CRI runtime", "endpoint", cfg.Endpoint)
		return r, nil
	}

	if err := cfg.writeConfigs(); err != nil {
		return nil, err
	}
	if err := ensurePodToPod(&cfg); err != nil {
		r.log.Warn("pod-to-pod traffic to other nodes will be masqueraded", "err", err)
	}
	start := time.Now()
	d, err := startDaemon(&cfg, r.log)
	if err != nil {
		return nil, err
	}
	r.daemon = d
	socket := SocketPath(cfg.StateDir)
	err = d.waitReady(ctx, socket)
	if err == nil {
		err = r.connect(ctx, "unix://"+socket)
	}
	if err == nil {
		r.log.Info("containerd is ready", "socket", socket, "took", time.Since(start).Round(time.Millisecond))
		err = r.ensurePauseImage(ctx)
	}
	if err != nil {
		_ = r.stopDaemon()
		return nil, err
	}
	return r, nil
}

// connect makes the CRI clients.
func (r *Runtime) connect(ctx context.Context, endpoint string) error {
	ctx = klog.NewContext(ctx, r.klog)
	rt, err := criclient.NewRemoteRuntimeService(ctx, endpoint, requestTimeout, noop.NewTracerProvider(), false)
	if err != nil {
		return fmt.Errorf("CRI runtime at %s: %w", endpoint, err)
	}
	img, err := criclient.NewRemoteImageService(ctx, endpoint, requestTimeout, noop.NewTracerProvider(), false)
	if err != nil {
		_ = rt.Close(ctx)
		return fmt.Errorf("CRI image service at %s: %w", endpoint, err)
	}
	r.rt, r.img = rt, img
	return nil
}

// ensurePauseImage imports cfg.PauseImage unless containerd has
// SandboxImage, and waits until the CRI plugin sees it.
func (r *Runtime) ensurePauseImage(ctx context.Context) error {
	spec := &runtimeapi.ImageSpec{Image: SandboxImage}
	if ok, err := r.hasImage(ctx, spec); err != nil || ok {
		return err
	}
	if r.cfg.PauseImage == "" {
		return fmt.Errorf("containerd: no pause image: %s is not in containerd and none was given to import", SandboxImage)
	}
	start := time.Now()
	if err := ImportImages(ctx, SocketPath(r.cfg.StateDir), r.cfg.PauseImage); err != nil {
		return fmt.Errorf("containerd: pause image: %w", err)
	}
	// The CRI plugin learns of imported images from containerd's events.
	deadline := time.Now().Add(imageVisibleTimeout)
	for {
		ok, err := r.hasImage(ctx, spec)
		if err != nil {
			return err
		}
		if ok {
			r.log.Info("imported the pause image", "file", r.cfg.PauseImage, "image", SandboxImage, "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd: imported %s from %s but containerd does not list it", SandboxImage, r.cfg.PauseImage)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (r *Runtime) hasImage(ctx context.Context, spec *runtimeapi.ImageSpec) (bool, error) {
	resp, err := r.ImageStatus(ctx, spec, false)
	if err != nil {
		return false, fmt.Errorf("containerd: image status of %s: %w", spec.Image, err)
	}
	return resp.GetImage() != nil, nil
}

// Close releases the runtime. For a containerd it started, it stops and
// removes every sandbox, stops containerd and removes the bridge, the
// network's iptables chains, the pod cgroups and leftover mounts; for a
// user's endpoint it only closes the connection. Pods must not outlive the
// agent: Close goes on when ctx is cancelled, for at most about a minute.
func (r *Runtime) Close(ctx context.Context) error {
	r.closeOnce.Do(func() { r.closeErr = r.close(ctx) })
	return r.closeErr
}

func (r *Runtime) close(ctx context.Context) error {
	if r.daemon == nil {
		return r.closeClients(ctx)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	errs := []error{r.removeSandboxes(ctx)}
	errs = append(errs, r.stopDaemon())
	r.log.Info("containerd runtime closed", "took", time.Since(start).Round(time.Millisecond))
	return errors.Join(errs...)
}

// removeSandboxes stops and removes all sandboxes of the containerd.
func (r *Runtime) removeSandboxes(ctx context.Context) error {
	ctx = klog.NewContext(ctx, r.klog)
	sandboxes, err := r.rt.ListPodSandbox(ctx, nil)
	if err != nil {
		return fmt.Errorf("containerd: list sandboxes: %w", err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, closeParallelism)
	)
	for _, s := range sandboxes {
		if uid := s.GetMetadata().GetUid(); uid != "" {
			r.addCgroupParent("/skiff/pod" + uid)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := r.rt.StopPodSandbox(ctx, s.Id)
			if err == nil {
				err = r.rt.RemovePodSandbox(ctx, s.Id)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("containerd: remove sandbox %s (%s/%s): %w", s.Id, s.GetMetadata().GetNamespace(), s.GetMetadata().GetName(), err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(sandboxes) > 0 {
		r.log.Info("removed the pod sandboxes", "count", len(sandboxes), "errors", len(errs))
	}
	return errors.Join(errs...)
}

// stopDaemon closes the clients, stops the containerd the runtime started
// and cleans up the host after it.
func (r *Runtime) stopDaemon() error {
	ctx := context.Background()
	err := r.closeClients(ctx)
	r.daemon.stop(r.log)
	r.mu.Lock()
	parents := make([]string, 0, len(r.cgroupParents))
	for p := range r.cgroupParents {
		parents = append(parents, p)
	}
	r.mu.Unlock()
	sort.Strings(parents)
	if cerr := cleanupHost(&r.cfg, parents, r.daemon.newDirs, r.log); cerr != nil {
		err = errors.Join(err, fmt.Errorf("containerd: clean up: %w", cerr))
	}
	return err
}

func (r *Runtime) closeClients(ctx context.Context) error {
	var errs []error
	if r.rt != nil {
		errs = append(errs, r.rt.Close(ctx))
	}
	if r.img != nil {
		errs = append(errs, r.img.Close(ctx))
	}
	return errors.Join(errs...)
}

func (r *Runtime) addCgroupParent(p string) {
	if p == "" {
		return
	}
	r.mu.Lock()
	r.cgroupParents[p] = true
	r.mu.Unlock()
}

// ctx gives cri-client the runtime's logger.
func (r *Runtime) ctx(ctx context.Context) context.Context { return klog.NewContext(ctx, r.klog) }

// Version implements runtime.Runtime.
func (r *Runtime) Version(ctx context.Context, apiVersion string) (*runtimeapi.VersionResponse, error) {
	return r.rt.Version(r.ctx(ctx), apiVersion)
}

// RunPodSandbox implements runtime.Runtime.
func (r *Runtime) RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig, runtimeHandler string) (string, error) {
	r.addCgroupParent(config.GetLinux().GetCgroupParent())
	return r.rt.RunPodSandbox(r.ctx(ctx), config, runtimeHandler)
}

// StopPodSandbox implements runtime.Runtime.
func (r *Runtime) StopPodSandbox(ctx context.Context, podSandboxID string) error {
	return r.rt.StopPodSandbox(r.ctx(ctx), podSandboxID)
}

// RemovePodSandbox implements runtime.Runtime.
func (r *Runtime) RemovePodSandbox(ctx context.Context, podSandboxID string) error {
	return r.rt.RemovePodSandbox(r.ctx(ctx), podSandboxID)
}

// PodSandboxStatus implements runtime.Runtime.
func (r *Runtime) PodSandboxStatus(ctx context.Context, podSandboxID string, verbose bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	return r.rt.PodSandboxStatus(r.ctx(ctx), podSandboxID, verbose)
}

// ListPodSandbox implements runtime.Runtime.
func (r *Runtime) ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	return r.rt.ListPodSandbox(r.ctx(ctx), filter)
}

// CreateContainer implements runtime.Runtime.
func (r *Runtime) CreateContainer(ctx context.Context, podSandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	return r.rt.CreateContainer(r.ctx(ctx), podSandboxID, config, sandboxConfig)
}

// StartContainer implements runtime.Runtime.
func (r *Runtime) StartContainer(ctx context.Context, containerID string) error {
	return r.rt.StartContainer(r.ctx(ctx), containerID)
}

// StopContainer implements runtime.Runtime.
func (r *Runtime) StopContainer(ctx context.Context, containerID string, timeout int64) error {
	return r.rt.StopContainer(r.ctx(ctx), containerID, timeout)
}

// UpdateContainerResources implements runtime.Runtime.
func (r *Runtime) UpdateContainerResources(ctx context.Context, containerID string, resources *runtimeapi.ContainerResources) error {
	return r.rt.UpdateContainerResources(r.ctx(ctx), containerID, resources)
}

// RemoveContainer implements runtime.Runtime.
func (r *Runtime) RemoveContainer(ctx context.Context, containerID string) error {
	return r.rt.RemoveContainer(r.ctx(ctx), containerID)
}

// ListContainerStats implements stats.Runtime: containerd's CRI plugin
// reads the containers' cgroups (usageCoreNanoSeconds, workingSetBytes).
func (r *Runtime) ListContainerStats(ctx context.Context, filter *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	return r.rt.ListContainerStats(r.ctx(ctx), filter)
}

// ListContainers implements runtime.Runtime.
func (r *Runtime) ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	return r.rt.ListContainers(r.ctx(ctx), filter)
}

// ContainerStatus implements runtime.Runtime.
func (r *Runtime) ContainerStatus(ctx context.Context, containerID string, verbose bool) (*runtimeapi.ContainerStatusResponse, error) {
	return r.rt.ContainerStatus(r.ctx(ctx), containerID, verbose)
}

// ExecSync implements runtime.Runtime; a non-zero exit is a
// k8s.io/utils/exec.CodeExitError.
func (r *Runtime) ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (stdout []byte, stderr []byte, err error) {
	return r.rt.ExecSync(r.ctx(ctx), containerID, cmd, timeout)
}

// Exec implements runtime.Runtime: the URL is on containerd's streaming
// server.
func (r *Runtime) Exec(ctx context.Context, request *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return r.rt.Exec(r.ctx(ctx), request)
}

// Attach implements runtime.Runtime.
func (r *Runtime) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return r.rt.Attach(r.ctx(ctx), req)
}

// PortForward implements runtime.Runtime.
func (r *Runtime) PortForward(ctx context.Context, request *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return r.rt.PortForward(r.ctx(ctx), request)
}

// ImageStatus implements runtime.Runtime.
func (r *Runtime) ImageStatus(ctx context.Context, image *runtimeapi.ImageSpec, verbose bool) (*runtimeapi.ImageStatusResponse, error) {
	return r.img.ImageStatus(r.ctx(ctx), image, verbose)
}

// PullImage implements runtime.Runtime; its error carries containerd's
// message.
func (r *Runtime) PullImage(ctx context.Context, image *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, podSandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	return r.img.PullImage(r.ctx(ctx), image, auth, podSandboxConfig)
}

// debugHandler logs every record at debug level: the CRI client logs a
// failed call as an error, which the caller reports itself.
type debugHandler struct{ slog.Handler }

func (h debugHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return h.Handler.Enabled(ctx, slog.LevelDebug)
}

func (h debugHandler) Handle(ctx context.Context, rec slog.Record) error {
	rec.Level = slog.LevelDebug
	return h.Handler.Handle(ctx, rec)
}

func (h debugHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return debugHandler{h.Handler.WithAttrs(attrs)}
}

func (h debugHandler) WithGroup(name string) slog.Handler {
	return debugHandler{h.Handler.WithGroup(name)}
}
