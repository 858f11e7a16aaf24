// Command skiff is Kubernetes for ML services in one binary: `skiff server`
// runs the API server (on an embedded or external etcd); `skiff agent` joins
// a machine as a node; `skiff image load` imports image tarballs into a
// node's containerd; `skiff version` prints the version.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"skiff.dev/skiff/internal/agent"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/controller/podautoscaler"
	"skiff.dev/skiff/internal/controller/podgc"
	"skiff.dev/skiff/internal/metrics"
	"skiff.dev/skiff/internal/server"
	"skiff.dev/skiff/internal/serviceaccount"
	"skiff.dev/skiff/internal/storage/etcd"
	"skiff.dev/skiff/internal/wellknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)
	// The Kubernetes libraries (k8s.io/apiserver, client-go) log through
	// klog: into the same handler, so the log has one format.
	klog.SetSlogLogger(log)
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
	root.AddCommand(newServerCommand(log, server.Run), newAgentCommand(log, agent.Run), newImageCommand(), newSecretsEncryptCommand(log), newTokenCommand(),
		newKubeconfigCommand(server.WriteUserKubeconfig), newVersionCommand())
	return root
}

// newServerCommand is `skiff server`: its flags fill a server.Config that
// run (server.Run) gets.
func newServerCommand(log *slog.Logger, run func(context.Context, server.Config) error) *cobra.Command {
	var cfg server.Config
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the API server (with an embedded etcd unless --etcd-endpoints is given)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = log
			if !cmd.Flags().Changed("cluster-dns") && !cfg.ServiceCIDR.Contains(cfg.Node.ClusterDNS[0]) {
				// The default follows --service-cidr: its tenth address.
				cfg.Node.ClusterDNS = nil
			}
			return run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "/var/lib/skiff", "directory for etcd data, certificates and the admin kubeconfig")
	f.Var(newIPValue(&cfg.BindAddress, "0.0.0.0"), "bind-address", "address to serve the API on")
	f.IntVar(&cfg.Port, "port", 6443, "HTTPS port of the API")
	f.StringVar(&cfg.AdvertiseAddress, "advertise-address", "127.0.0.1", "address clients reach the API at, written into the kubeconfig")
	addEtcdFlags(f, &cfg.Etcd, "client URLs of an external etcd cluster (default: embedded etcd under --data-dir)")
	f.StringVar(&cfg.EncryptionProviderConfig, "encryption-provider-config", "", "EncryptionConfiguration file (apiserver.config.k8s.io/v1) that says how resources are encrypted in etcd, reloaded when it changes (default: <data-dir>/encryption-config.yaml, written on first start: Secrets under a new aescbc key)")
	f.Var(newPrefixValue(&cfg.ServiceCIDR, "10.43.0.0/16"), "service-cidr", "range of Service ClusterIPs")
	f.Var(newPrefixValue(&cfg.ControllerManager.NodeIPAM.ClusterCIDR, "10.42.0.0/16"), "cluster-cidr", "range of pod IPs; each node gets a /24 of it as its spec.podCIDR")
	f.Var(newPortRangeValue(&cfg.NodePortMin, &cfg.NodePortMax, 30000, 32767), "service-node-port-range", "range of Service NodePorts")
	addAuditFlags(f, &cfg.Audit)
	f.BoolVar(&cfg.UnsafeNoFsync, "unsafe-no-fsync", false, "embedded etcd skips fsync (tests only: data may be lost on power failure)")
	host, _ := os.Hostname()
	f.StringVar(&cfg.Node.NodeName, "node-name", strings.ToLower(host), "name of this server's own node")
	cfg.Node.Runtime = agent.RuntimeAuto
	f.Var(&cfg.Node.Runtime, "runtime", "container runtime of this server's node: auto, cri, process or fake (fake: a simulated node whose pods run no processes)")
	f.BoolVar(&cfg.DisableAgent, "disable-agent", false, "run no node in the server process (pods run only on agents that join)")
	addNodeFlags(f, &cfg.Node)
	f.IntVar(&cfg.Hollow.Count, "hollow-nodes", 0, "add N simulated nodes hollow-0 ... hollow-(N-1) (for control-plane tests and benchmarks)")
	f.DurationVar(&cfg.ControllerManager.NodeLifecycle.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "how long a node may miss heartbeats before it is marked Unknown")
	f.IntVar(&cfg.ControllerManager.PodGC.TerminatedPodThreshold, "terminated-pod-gc-threshold", podgc.DefaultTerminatedPodThreshold, "how many finished (Succeeded or Failed) pods may stay before the oldest are deleted; 0 or less keeps them all")
	addPodAutoscalerFlags(f, &cfg.ControllerManager.PodAutoscaler)
	addServiceAccountFlags(f, &cfg.ServiceAccounts)
	f.BoolVar(&cfg.ControllerManager.DisableServiceLB, "disable-servicelb", false, "run no built-in LoadBalancer implementation (LoadBalancer Services of no class stay pending unless another implementation serves them)")
	f.BoolVar(&cfg.NoControllers, "no-controllers", false, "run the API server alone, without controllers and scheduler (API benchmarks)")
	f.StringSliceVar(&cfg.AuthorizationModes, "authorization-mode", []string{apiserver.ModeNode, apiserver.ModeRBAC},
		"ordered authorizers, as kube-apiserver's: Node, RBAC, AlwaysAllow (every authenticated user may do everything); members of system:masters may always do everything")
	f.Int64Var(&cfg.DefaultNotReadyTolerationSeconds, "default-not-ready-toleration-seconds", 300, "seconds pods tolerate a not-ready node before they are evicted (added to pods that do not say)")
	f.IntVar(&cfg.DNS.Port, "cluster-dns-port", 53, "port the cluster DNS server listens on (UDP and TCP) at the node's address (--node-ip, else the default route's interface); the kube-dns Service's targetPort")
	f.BoolVar(&cfg.DNS.Disable, "disable-dns", false, "run no cluster DNS server (pods with dnsPolicy ClusterFirst then resolve nothing through --cluster-dns)")
	f.DurationVar(&cfg.Metrics.Resolution, "metric-resolution", metrics.DefaultResolution, "how often nodes (/metrics/resource) and pods annotated prometheus.io/scrape are scraped for the metrics APIs (metrics.k8s.io, custom.metrics.k8s.io)")
	f.Int64Var(&cfg.DefaultUnreachableTolerationSeconds, "default-unreachable-toleration-seconds", 300, "seconds pods tolerate an unreachable node before they are evicted (added to pods that do not say)")
	return cmd
}

// newAgentCommand is `skiff agent`: its flags fill an agent.Config that run
// (agent.Run) gets.
func newAgentCommand(log *slog.Logger, run func(context.Context, agent.Config) error) *cobra.Command {
	var cfg agent.Config
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Join a machine to the cluster as a node and run its pods",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = log
			return run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	host, _ := os.Hostname()
	f.StringVar(&cfg.Server, "server", "", "URL of the API server, https://HOST:6443")
	f.StringVar(&cfg.Token, "token", "", "join token: the server's <data-dir>/token or one made by skiff token create")
	f.StringVar(&cfg.DataDir, "data-dir", "/var/lib/skiff-agent", "directory for the node's credentials and state")
	f.StringVar(&cfg.NodeName, "node-name", strings.ToLower(host), "name of the node")
	cfg.Runtime = agent.RuntimeAuto
	f.Var(&cfg.Runtime, "runtime", "container runtime: auto, cri, process or fake (fake: a simulated node whose pods run no processes)")
	f.IntVar(&cfg.FakeGPUs, "fake-gpus", 0, "advertise N simulated nvidia.com/gpu (tests only; the node is labelled skiff.dev/fake-gpus)")
	f.StringToStringVar(&cfg.Labels, "node-labels", nil, "labels the node registers with, KEY=VALUE,...")
	f.Var(taintsValue{&cfg.Taints}, "register-with-taints", "taints the node registers with, KEY[=VALUE]:EFFECT,...")
	addNodeFlags(f, &cfg)
	return cmd
}

// addNodeFlags adds the flags of a node's runtime, kubelet port and cluster
// DNS, shared by `skiff server` (its own node) and `skiff agent`.
func addNodeFlags(f *pflag.FlagSet, cfg *agent.Config) {
	f.StringVar(&cfg.NodeIP, "node-ip", "", "the node's InternalIP, where the API server reaches its kubelet port (default: the local address that routes to the server)")
	f.IntVar(&cfg.KubeletPort, "kubelet-port", agent.DefaultKubeletPort, "HTTPS port of the node's logs, exec, attach and port-forward server")
	f.StringVar(&cfg.CRISocket, "cri-socket", "", "endpoint of a running CRI runtime, e.g. unix:///run/containerd/containerd.sock (default with --runtime=cri: start containerd under --data-dir)")
	f.StringVar(&cfg.PauseImage, "pause-image", "", "docker-archive tarball of the sandbox (pause) image imported into containerd (default: build/images/pause.tar beside the binary)")
	f.Var(newAddrsValue(&cfg.ClusterDNS, "10.43.0.10"), "cluster-dns", "cluster DNS addresses, the nameservers of pods with dnsPolicy ClusterFirst (on the server: the kube-dns Service's ClusterIP, in --service-cidr)")
	f.StringVar(&cfg.ClusterDomain, "cluster-domain", wellknown.ClusterDomain, "cluster DNS domain")
	f.BoolVar(&cfg.DisableDrainWait, "disable-drain-wait", false, "stop a deleted pod's containers at once, as Kubernetes does, instead of first waiting (at most min(grace period - 2s, 20s)) until no node's service proxy routes new connections to the pod")
}

// addEtcdFlags adds the flags that reach an etcd cluster, as
// kube-apiserver's --etcd-servers, --etcd-cafile, --etcd-certfile and
// --etcd-keyfile; endpointsUsage says what an empty --etcd-endpoints means.
func addEtcdFlags(f *pflag.FlagSet, cfg *etcd.ClientConfig, endpointsUsage string) {
	f.StringSliceVar(&cfg.Endpoints, "etcd-endpoints", nil, endpointsUsage)
	f.StringVar(&cfg.CAFile, "etcd-cafile", "", "CA that verifies the external etcd's serving certificates")
	f.StringVar(&cfg.CertFile, "etcd-certfile", "", "client certificate shown to the external etcd")
	f.StringVar(&cfg.KeyFile, "etcd-keyfile", "", "key of --etcd-certfile")
}

// addAuditFlags adds kube-apiserver's flags of the audit log, with its
// defaults.
func addAuditFlags(f *pflag.FlagSet, a *apiserver.AuditConfig) {
	*a = apiserver.DefaultAudit()
	f.StringVar(&a.PolicyFile, "audit-policy-file", "", "audit policy (audit.k8s.io/v1 Policy): which requests the audit log records, at which level")
	f.StringVar(&a.LogPath, "audit-log-path", "", "file the audit log is written to (JSON lines; - is standard output); none when empty")
	f.IntVar(&a.MaxAge, "audit-log-maxage", a.MaxAge, "days old audit log files are kept")
	f.IntVar(&a.MaxBackups, "audit-log-maxbackup", a.MaxBackups, "how many old audit log files are kept")
	f.IntVar(&a.MaxSize, "audit-log-maxsize", a.MaxSize, "megabytes an audit log file grows to before it is rotated")
}

// addPodAutoscalerFlags adds kube-controller-manager's flags of the
// HorizontalPodAutoscaler controller, with its defaults.
func addPodAutoscalerFlags(f *pflag.FlagSet, o *podautoscaler.Options) {
	f.DurationVar(&o.SyncPeriod, "horizontal-pod-autoscaler-sync-period", podautoscaler.DefaultSyncPeriod, "how often the HorizontalPodAutoscaler controller looks at every HPA's metrics and target")
	f.DurationVar(&o.DownscaleStabilization, "horizontal-pod-autoscaler-downscale-stabilization", podautoscaler.DefaultDownscaleStabilization, "how far back the autoscaler looks for a higher recommendation before it scales down (HPAs whose behavior sets no scale-down window)")
	f.Float64Var(&o.Tolerance, "horizontal-pod-autoscaler-tolerance", podautoscaler.DefaultTolerance, "how far the ratio of a metric to its target may be from 1.0 before the autoscaler scales (0 means the default)")
	f.DurationVar(&o.CPUInitializationPeriod, "horizontal-pod-autoscaler-cpu-initialization-period", podautoscaler.DefaultCPUInitializationPeriod, "how long after a pod starts its CPU samples count only when it is ready and was ready over the sample's whole window")
	f.DurationVar(&o.InitialReadinessDelay, "horizontal-pod-autoscaler-initial-readiness-delay", podautoscaler.DefaultInitialReadinessDelay, "how long after a pod starts it may turn unready and still count as never having been ready (its CPU is then not used)")
}

// addServiceAccountFlags adds kube-apiserver's service account token flags.
func addServiceAccountFlags(f *pflag.FlagSet, o *serviceaccount.Options) {
	f.StringArrayVar(&o.Issuers, "service-account-issuer", []string{wellknown.DefaultServiceAccountIssuer}, "issuer (iss claim) of service account tokens; given more than once, the first signs new tokens and all are accepted")
	f.StringArrayVar(&o.KeyFiles, "service-account-key-file", nil, "PEM file of public (or private) keys that also verify service account tokens (keys rotated out); may be given more than once")
	f.StringVar(&o.SigningKeyFile, "service-account-signing-key-file", "", "PEM private key that signs service account tokens (default: <data-dir>/tls/service-account.key, created on the first start)")
	f.DurationVar(&o.MaxTokenExpiration, "service-account-max-token-expiration", 0, "longest lifetime of a requested service account token; longer requests get this (0: no cap; unlike kube-apiserver, caps under 1h are taken, for tests)")
	f.StringSliceVar(&o.APIAudiences, "api-audiences", nil, "audiences of the API: tokens requested without an audience get these, and service account tokens must carry one (default: the issuers)")
}

// taintsValue is the --register-with-taints flag: comma-separated taints.
type taintsValue struct{ taints *[]corev1.Taint }

func (v taintsValue) Type() string { return "strings" }
func (v taintsValue) String() string {
	if v.taints == nil || len(*v.taints) == 0 {
		return "" // no default shown in the help
	}
	specs := make([]string, len(*v.taints))
	for i, t := range *v.taints {
		specs[i] = t.ToString()
	}
	return "[" + strings.Join(specs, ",") + "]"
}
func (v taintsValue) Set(s string) error {
	for spec := range strings.SplitSeq(s, ",") {
		t, err := parseTaint(spec)
		if err != nil {
			return err
		}
		*v.taints = append(*v.taints, t)
	}
	return nil
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

// newKubeconfigCommand is `skiff kubeconfig --user NAME`: its flags fill a
// server.UserKubeconfig that write (server.WriteUserKubeconfig) gets.
func newKubeconfigCommand(write func(server.UserKubeconfig) error) *cobra.Command {
	var cfg server.UserKubeconfig
	cmd := &cobra.Command{
		Use:   "kubeconfig --user NAME [--group GROUP...]",
		Short: "Print a kubeconfig for a new user, with a client certificate signed by the cluster CA (run on the server's machine)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Out = cmd.OutOrStdout()
			return write(cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "/var/lib/skiff", "the server's data directory (its CA and admin kubeconfig)")
	f.StringVar(&cfg.User, "user", "", "the user's name, the certificate's CommonName")
	f.StringSliceVar(&cfg.Groups, "group", nil, "a group of the user, the certificate's Organization (repeatable)")
	f.DurationVar(&cfg.Validity, "validity", server.DefaultUserValidity, "how long the certificate is valid")
	_ = cmd.MarkFlagRequired("user")
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
