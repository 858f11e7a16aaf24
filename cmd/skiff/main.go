// Command skiff is Kubernetes for ML services in one binary: `skiff server`
// runs the API server (on an embedded or external etcd); `skiff version`
// prints the version.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/agent"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/controlplane"
	"skiff.dev/skiff/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)
	if err := newRootCommand(log).ExecuteContext(ctx); err != nil {
		os.Exit(1)
	}
}

func newRootCommand(log *slog.Logger) *cobra.Command {
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "Kubernetes for ML services, in one binary",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(newServerCommand(log), newAgentCommand(log), newVersionCommand())
	return root
}

func newServerCommand(log *slog.Logger) *cobra.Command {
	var (
		cfg         server.Config
		cp          controlplane.Config
		bind        string
		serviceCIDR string
		nodePorts   string
	)
	cmd := &cobra.Command{
		Use: "server",
		PreRunE: func(*cobra.Command, []string) error {
			switch cp.Runtime {
			case "auto", "cri", "process", "fake":
				return nil
			}
			return fmt.Errorf("--runtime %q: want auto, cri, process or fake", cp.Runtime)
		},
		Short: "Run the API server (with an embedded etcd unless --etcd-endpoints is given)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.BindAddress = net.ParseIP(bind)
			if cfg.BindAddress == nil {
				return fmt.Errorf("--bind-address %q is not an IP address", bind)
			}
			prefix, err := netip.ParsePrefix(serviceCIDR)
			if err != nil {
				return fmt.Errorf("--service-cidr: %w", err)
			}
			cfg.ServiceCIDR = prefix
			if _, err := fmt.Sscanf(nodePorts, "%d-%d", &cfg.NodePortMin, &cfg.NodePortMax); err != nil || cfg.NodePortMin > cfg.NodePortMax {
				return fmt.Errorf("--service-node-port-range %q: want MIN-MAX", nodePorts)
			}
			cfg.Logger, cp.Logger = log, log
			cfg.Components = func(ctx context.Context, loopback *rest.Config) { controlplane.Start(ctx, cp, loopback) }
			return server.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "/var/lib/skiff", "directory for etcd data, certificates and the admin kubeconfig")
	f.StringVar(&bind, "bind-address", "0.0.0.0", "address to serve the API on")
	f.IntVar(&cfg.Port, "port", 6443, "HTTPS port of the API")
	f.StringVar(&cfg.AdvertiseAddress, "advertise-address", "127.0.0.1", "address clients reach the API at, written into the kubeconfig")
	f.StringSliceVar(&cfg.EtcdEndpoints, "etcd-endpoints", nil, "client URLs of an external etcd cluster (default: embedded etcd under --data-dir)")
	f.StringVar(&serviceCIDR, "service-cidr", "10.43.0.0/16", "range of Service ClusterIPs")
	f.StringVar(&nodePorts, "service-node-port-range", "30000-32767", "range of Service NodePorts")
	f.BoolVar(&cfg.UnsafeNoFsync, "unsafe-no-fsync", false, "embedded etcd skips fsync (tests only: data may be lost on power failure)")
	host, _ := os.Hostname()
	f.StringVar(&cp.NodeName, "node-name", strings.ToLower(host), "name of this server's own node")
	f.StringVar(&cp.Runtime, "runtime", "auto", "container runtime of this server's node: auto, cri, process or fake (fake: a simulated node whose pods run no processes)")
	f.IntVar(&cp.HollowNodes, "hollow-nodes", 0, "add N simulated nodes hollow-0 ... hollow-(N-1) (for control-plane tests and benchmarks)")
	f.DurationVar(&cp.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "how long a node may miss heartbeats before it is marked Unknown")
	f.BoolVar(&cp.NoControllers, "no-controllers", false, "run the API server alone, without controllers and scheduler (API benchmarks)")
	f.Int64Var(&cfg.DefaultNotReadyTolerationSeconds, "default-not-ready-toleration-seconds", 300, "seconds pods tolerate a not-ready node before they are evicted (added to pods that do not say)")
	f.Int64Var(&cfg.DefaultUnreachableTolerationSeconds, "default-unreachable-toleration-seconds", 300, "seconds pods tolerate an unreachable node before they are evicted (added to pods that do not say)")
	return cmd
}

func newAgentCommand(log *slog.Logger) *cobra.Command {
	var (
		cfg    agent.Config
		taints []string
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Join a machine to the cluster as a node and run its pods",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch cfg.Runtime {
			case "auto", "cri", "process", "fake":
			default:
				return fmt.Errorf("--runtime %q: want auto, cri, process or fake", cfg.Runtime)
			}
			if cfg.Server == "" || cfg.Token == "" {
				return fmt.Errorf("--server and --token are required (the server prints them and writes the token to <data-dir>/token)")
			}
			for _, spec := range taints {
				t, err := parseTaint(spec)
				if err != nil {
					return err
				}
				cfg.Taints = append(cfg.Taints, t)
			}
			cfg.Logger = log
			return agent.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	host, _ := os.Hostname()
	f.StringVar(&cfg.Server, "server", "", "URL of the API server, https://HOST:6443")
	f.StringVar(&cfg.Token, "token", "", "join token from the server's <data-dir>/token")
	f.StringVar(&cfg.DataDir, "data-dir", "/var/lib/skiff-agent", "directory for the node's credentials and state")
	f.StringVar(&cfg.NodeName, "node-name", strings.ToLower(host), "name of the node")
	f.StringVar(&cfg.Runtime, "runtime", "auto", "container runtime: auto, cri, process or fake (fake: a simulated node whose pods run no processes)")
	f.IntVar(&cfg.FakeGPUs, "fake-gpus", 0, "advertise N simulated nvidia.com/gpu (tests only; the node is labelled skiff.dev/fake-gpus)")
	f.StringToStringVar(&cfg.Labels, "node-labels", nil, "labels the node registers with, KEY=VALUE,...")
	f.StringSliceVar(&taints, "register-with-taints", nil, "taints the node registers with, KEY[=VALUE]:EFFECT,...")
	return cmd
}

// parseTaint reads KEY[=VALUE]:EFFECT as kubectl taint does.
func parseTaint(spec string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(spec, ":")
	key, value, _ := strings.Cut(kv, "=")
	t := corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffect(effect)}
	switch t.Effect {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		ok = false
	}
	if !ok || key == "" {
		return t, fmt.Errorf("taint %q: want KEY[=VALUE]:EFFECT with EFFECT NoSchedule, PreferNoSchedule or NoExecute", spec)
	}
	return t, nil
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "skiff (Kubernetes API v%s)\n", apiserver.KubernetesVersion)
		},
	}
}
