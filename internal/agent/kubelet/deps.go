package kubelet

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff.dev/skiff/internal/agent/kubeletserver"
	"skiff.dev/skiff/internal/agent/podenv"
	"skiff.dev/skiff/internal/agent/prober"
	"skiff.dev/skiff/internal/agent/runtime"
	"skiff.dev/skiff/internal/agent/stats"
	"skiff.dev/skiff/internal/agent/volume"
)

// volumeManager sets up and tears down pods' volumes (volume.Manager).
type volumeManager interface {
	Setup(ctx context.Context, pod *corev1.Pod) (map[string]string, error)
	Teardown(ctx context.Context, uid types.UID) error
}

// deps are the sibling packages the kubelet works with, replaceable in
// tests.
type deps struct {
	volumes volumeManager
	mounts  func(pod *corev1.Pod, c *corev1.Container, paths, env map[string]string) ([]*runtimeapi.Mount, error)
	// env resolves a container's environment; services, when not nil,
	// are the cluster's Services for the service link variables.
	env    func(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, c *corev1.Container, podIP, hostIP string, services []corev1.Service) ([]*runtimeapi.KeyValue, error)
	expand func(s string, env map[string]string) string
	probe  probeFunc
	// serve runs the kubelet server until ctx ends (nil: none).
	serve func(ctx context.Context, pods kubeletserver.PodSource) error
}

// defaultDeps wires the real packages.
func defaultDeps(cfg *Config, rt runtime.Runtime, n *nodeAgent, log *slog.Logger) *deps {
	p := &prober.Prober{Runtime: rt}
	allocatable := n.allocatable()
	vm := volume.NewManager(cfg.Client, filepath.Join(cfg.DataDir, "pods"), log)
	vm.SetNodeAllocatable(allocatable)
	vm.LocalPathRoot = LocalPathRoot(cfg.DataDir)
	return &deps{
		volumes: vm,
		mounts:  volume.MountsWithEnv,
		env: func(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, c *corev1.Container, podIP, hostIP string, services []corev1.Service) ([]*runtimeapi.KeyValue, error) {
			opts := []podenv.Option{podenv.WithNodeAllocatable(allocatable)}
			if services != nil {
				opts = append(opts, podenv.WithServices(services))
			}
			return podenv.Resolve(ctx, client, pod, c, podIP, hostIP, opts...)
		},
		expand: podenv.Expand,
		probe: func(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, probe *corev1.Probe) (probeResult, string) {
			r, msg := p.Probe(ctx, pod, c, id, probe)
			switch r {
			case prober.Success:
				return probeSuccess, msg
			case prober.Failure:
				return probeFailure, msg
			default:
				// Could not probe (the container just exited, a runtime
				// error): the attempt does not count, as the kubelet's.
				return probeUnknown, msg
			}
		},
		serve: func(ctx context.Context, pods kubeletserver.PodSource) error {
			host := cfg.NodeIP
			if host == "" {
				host = "0.0.0.0"
			}
			auth, err := kubeletserver.NewAuth(ctx, kubeletserver.AuthConfig{Client: cfg.Client, ClientCA: cfg.ClientCA, Logger: log})
			if err != nil {
				return err
			}
			collector := newStatsCollector(cfg, rt, log)
			go collector.Run(ctx)
			srv, err := kubeletserver.New(kubeletserver.Config{
				Addr:     net.JoinHostPort(host, strconv.Itoa(cfg.KubeletPort)),
				Runtime:  rt,
				Pods:     pods,
				Auth:     auth,
				NodeName: cfg.NodeName,
				CertFile: cfg.ServingCertFile,
				KeyFile:  cfg.ServingKeyFile,
				CertDir:  cfg.DataDir + "/kubelet",
				Hosts:    nonEmpty(cfg.NodeIP, cfg.NodeName),
				Stats:    collector,
				Logger:   log,
			})
			if err != nil {
				return err
			}
			return srv.Run(ctx)
		},
	}
}

// newStatsCollector measures the node (its root cgroup or /proc) and the
// containers of rt, when rt reports container stats.
func newStatsCollector(cfg *Config, rt runtime.Runtime, log *slog.Logger) *stats.Collector {
	node := stats.NodeReader{Cgroups: stats.DetectCgroups("/sys/fs/cgroup")}
	boot, err := node.BootTime()
	if err != nil {
		log.Debug("node boot time unknown", "err", err)
	}
	sc := stats.Config{NodeName: cfg.NodeName, NodeStart: boot, Node: node, Logger: log}
	if sr, ok := rt.(stats.Runtime); ok {
		sc.Runtime = sr
	} else {
		log.Info("the container runtime reports no container stats: /stats/summary and /metrics/resource hold only the node")
	}
	return stats.NewCollector(sc)
}

func nonEmpty(l ...string) []string {
	var out []string
	for _, s := range l {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
