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
	"syscall"

	"github.com/spf13/cobra"

	"skiff.dev/skiff/internal/apiserver"
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
	root.AddCommand(newServerCommand(log), newVersionCommand())
	return root
}

func newServerCommand(log *slog.Logger) *cobra.Command {
	var (
		cfg         server.Config
		bind        string
		serviceCIDR string
		nodePorts   string
	)
	cmd := &cobra.Command{
		Use:   "server",
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
			cfg.Logger = log
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
	return cmd
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
