// Package agent runs `skiff agent`: it joins a machine to the cluster as a
// node with a join token and runs that node's pods with the chosen runtime.
package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"os"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"skiff.dev/skiff/internal/agent/hollow"
	"skiff.dev/skiff/internal/join"
	"skiff.dev/skiff/internal/wellknown"
)

// GPUResource is the extended resource NVIDIA devices are advertised as.
const GPUResource = wellknown.GPUResource

// Config is the configuration of `skiff agent`.
type Config struct {
	// Server is the API server's URL, Token the join token it printed.
	Server, Token string
	// DataDir keeps the node's credentials.
	DataDir string
	// NodeName names the node.
	NodeName string
	// Runtime runs the pods: one of RuntimeKinds (zero: auto).
	Runtime RuntimeKind
	// FakeGPUs advertises that many nvidia.com/gpu (simulated, for tests).
	FakeGPUs int
	// Labels and Taints the node registers with.
	Labels map[string]string
	Taints []corev1.Taint
	// NodeIP is the node's InternalIP, where the API server reaches the
	// agent's kubelet port; default: the local address that routes to the
	// server.
	NodeIP string
	// KubeletPort is the HTTPS port of the agent's logs/exec/attach/
	// port-forward server; default 10250.
	KubeletPort int
	// CRISocket is the endpoint of a CRI runtime the agent uses instead of
	// starting containerd itself (runtime cri).
	CRISocket string
	// PauseImage is the docker-archive tarball of the sandbox image the
	// agent imports into the containerd it starts; default: pause.tar in
	// the images folder beside the binary (build/images) if there is one.
	PauseImage string
	// ClusterDNS are the cluster DNS servers the node's ClusterFirst pods
	// use (--cluster-dns, default 10.43.0.10); ClusterDomain is the
	// cluster's DNS domain (--cluster-domain, default cluster.local).
	ClusterDNS    []netip.Addr
	ClusterDomain string
	// DisableDrainWait (--disable-drain-wait) makes the kubelet stop a
	// deleted pod's containers at once instead of first waiting, at most
	// min(grace-2s, 20s), until no node's service proxy routes new
	// connections to the pod.
	DisableDrainWait bool
	Logger           *slog.Logger
}

// Run joins the cluster and runs the node until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Server == "" || cfg.Token == "" {
		return fmt.Errorf("--server and --token are required (the server prints them and writes the token to <data-dir>/token)")
	}
	var err error
	if err = os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// The kubelet server's certificate is signed at join for the node's
	// addresses, which the API server verifies it by.
	if cfg.Runtime == RuntimeFake {
		cfg.NodeIP = fakeNodeIP(cfg.NodeName).String()
	} else if cfg.NodeIP == "" {
		if cfg.NodeIP, err = localAddressTowards(cfg.Server); err != nil {
			return err
		}
	}
	kubeconfig, err := join.Credentials(ctx, cfg.Server, cfg.Token, cfg.NodeName, cfg.DataDir, []string{cfg.NodeIP, cfg.NodeName})
	if err != nil {
		return err
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("agent kubeconfig: %w", err)
	}
	restCfg.ContentType = "application/vnd.kubernetes.protobuf"
	// The kubelet's defaults (kubeAPIQPS 50, kubeAPIBurst 100): client-go's
	// 5/10 would queue a busy node's status writes and events.
	restCfg.QPS, restCfg.Burst = 50, 100
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("agent client: %w", err)
	}
	cfg.Logger.Info("joined the cluster", "server", cfg.Server, "node", cfg.NodeName, "runtime", cfg.Runtime)
	if cfg.Runtime == RuntimeFake {
		ca, err := clusterCA(restCfg)
		if err != nil {
			return err
		}
		certFile, keyFile := join.ServingCertPaths(cfg.DataDir)
		return RunFake(ctx, client, ca, func([]string) (tls.Certificate, error) { return tls.LoadX509KeyPair(certFile, keyFile) }, cfg)
	}
	return runNode(ctx, client, restCfg, cfg)
}

// RunFake runs the node with the simulated runtime: its pods go Running
// without processes. The node is labelled as simulated. It serves its
// simulated stats to callers clientCA (PEM) signs or the API server
// authenticates, as the kubelet server does (nil: no stats), with the
// certificate servingCert returns.
func RunFake(ctx context.Context, client kubernetes.Interface, clientCA []byte, servingCert func(hosts []string) (tls.Certificate, error), cfg Config) error {
	capacity := corev1.ResourceList{}
	if cfg.FakeGPUs > 0 {
		capacity[GPUResource] = *resource.NewQuantity(int64(cfg.FakeGPUs), resource.DecimalSI)
	}
	labels := map[string]string{}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	if cfg.FakeGPUs > 0 {
		labels[wellknown.FakeGPUsLabel] = "true"
	}
	// A standalone simulated node takes a loopback node address of its
	// own, picked by its name outside what the server's hollow nodes use;
	// its pod CIDR comes from the server's node IPAM controller (its pods
	// wait for it).
	return hollow.Run(ctx, client, hollow.Options{
		Names:              []string{cfg.NodeName},
		Capacity:           capacity,
		Labels:             labels,
		Taints:             cfg.Taints,
		WaitForPodCIDR:     true,
		NodeIPRange:        fakeNodeIPRange(cfg.NodeName),
		ClientCA:           clientCA,
		ServingCertificate: servingCert,
		KubeletPort:        cfg.KubeletPort,
		Logger:             cfg.Logger,
	})
}

// fakeNodeIPRange is the range a standalone simulated node takes its
// address from (fakeNodeIP, the range's first).
func fakeNodeIPRange(name string) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 41, byte(128 + nameSlot(name)), 0}), 24)
}

// fakeNodeIP is the InternalIP of a standalone simulated node: the first
// of its range, as the hollow nodes number theirs.
func fakeNodeIP(name string) netip.Addr {
	return fakeNodeIPRange(name).Addr().Next()
}

func nameSlot(name string) int {
	return int(nameHash(name) % 128)
}

func nameHash(name string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return h.Sum32()
}
