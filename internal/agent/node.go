package agent

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/agent/kubelet"
	"skiff.dev/skiff/internal/agent/localname"
	"skiff.dev/skiff/internal/agent/runtime"
	"skiff.dev/skiff/internal/agent/runtime/containerd"
	"skiff.dev/skiff/internal/agent/runtime/process"
	"skiff.dev/skiff/internal/join"
)

// DefaultKubeletPort is the port of the agent's HTTPS server, as the
// kubelet's.
const DefaultKubeletPort = 10250

// runtimeCloseTimeout bounds how long stopping the container runtime (its
// pods, network and, for cri, the containerd the agent started) may take.
const runtimeCloseTimeout = 30 * time.Second

// clusterCA is the CA (PEM) of the agent's kubeconfig, which also signs the
// API server's kubelet client certificate.
func clusterCA(restCfg *rest.Config) ([]byte, error) {
	caPEM := restCfg.TLSClientConfig.CAData
	if len(caPEM) == 0 && restCfg.TLSClientConfig.CAFile != "" {
		var err error
		if caPEM, err = os.ReadFile(restCfg.TLSClientConfig.CAFile); err != nil {
			return nil, fmt.Errorf("cluster CA: %w", err)
		}
	}
	if !x509.NewCertPool().AppendCertsFromPEM(caPEM) {
		return nil, errors.New("cluster CA: no certificate in the agent's kubeconfig")
	}
	return caPEM, nil
}

// runNode runs a node whose pods are real processes or containers.
func runNode(ctx context.Context, client kubernetes.Interface, restCfg *rest.Config, cfg Config) error {
	log := cfg.Logger
	kind, err := chooseRuntime(cfg.Runtime, cfg.CRISocket)
	if err != nil {
		return err
	}
	log.Info("container runtime", "runtime", kind, "requested", cfg.Runtime)
	caPool, err := clusterCA(restCfg)
	if err != nil {
		return err
	}
	nodeIP := cfg.NodeIP // chosen before the join
	servingCert, servingKey := join.ServingCertPaths(cfg.DataDir)
	port := cfg.KubeletPort
	if port == 0 {
		port = DefaultKubeletPort
	}
	// runNode created the runtime, so it alone closes it, once kubelet.Run
	// returned: the pods' processes and networks go with the agent.
	var closers []runtime.Closer
	defer func() {
		// A fresh context, since ctx is already done.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runtimeCloseTimeout)
		defer cancel()
		for _, c := range closers {
			if err := c.Close(cctx); err != nil {
				log.Warn("stopping the container runtime", "err", err)
			}
		}
	}()
	clusterCIDR, err := clusterCIDR(ctx, client)
	if err != nil {
		return err
	}
	if !clusterCIDR.IsValid() {
		log.Warn("the server published no cluster CIDR (kube-system/skiff-cluster-network): traffic to pods on other nodes is masqueraded")
	}
	newRuntime := func(ctx context.Context, podCIDR netip.Prefix) (runtime.Runtime, error) {
		var (
			rt  runtime.Runtime
			err error
		)
		switch kind {
		case RuntimeProcess:
			var p *process.Runtime
			nodeAddr, _ := netip.ParseAddr(nodeIP)
			p, err = process.New(ctx, process.Config{
				StateDir:    filepath.Join(cfg.DataDir, "process"),
				PodCIDR:     podCIDR,
				ClusterCIDR: clusterCIDR,
				BridgeName:  bridgeName("skp", cfg.NodeName, cfg.DataDir),
				NodeIP:      nodeAddr,
				Logger:      log,
			})
			if p != nil {
				rt = p
				closers = append(closers, p)
			}
		default:
			var c *containerd.Runtime
			c, err = containerd.New(ctx, containerd.Config{
				StateDir:    filepath.Join(cfg.DataDir, "containerd"),
				CNIConfDir:  filepath.Join(cfg.DataDir, "cni", "net.d"),
				PodCIDR:     podCIDR,
				ClusterCIDR: clusterCIDR,
				BridgeName:  bridgeName("skc", cfg.NodeName, cfg.DataDir),
				PauseImage:  pauseImage(cfg.PauseImage),
				Endpoint:    cfg.CRISocket,
				Logger:      log,
			})
			if c != nil {
				rt = c
				closers = append(closers, c)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s runtime: %w", kind, err)
		}
		// The service proxy, the NetworkPolicy enforcement and the routes
		// to other nodes start with the pod network. They stop, removing
		// their rules and routes, when the runtime's closers run.
		closers = append(closers, startServiceProxy(ctx, client, cfg, nodeIP, podCIDR, clusterCIDR))
		closers = append(closers, startNetworkPolicy(ctx, client, cfg))
		closers = append(closers, startRoutes(ctx, client, cfg, nodeIP))
		return rt, nil
	}
	// The cleaner stops with the node, and runNode returns after it.
	cleanerCtx, stopCleaner := context.WithCancel(ctx)
	cleaned := make(chan struct{})
	go func() {
		defer close(cleaned)
		runLocalPathCleaner(cleanerCtx, client, kubelet.LocalPathRoot(cfg.DataDir), log.With("component", "local-path"))
	}()
	defer func() { stopCleaner(); <-cleaned }()
	return kubelet.Run(ctx, kubelet.Config{
		Client:      client,
		NodeName:    cfg.NodeName,
		DataDir:     cfg.DataDir,
		NodeIP:      nodeIP,
		KubeletPort: port,
		Labels:      cfg.Labels,
		Taints:      cfg.Taints,
		FakeGPUs:    cfg.FakeGPUs,
		NewRuntime:  newRuntime,
		ClientCA:    caPool,
		Logger:      log,

		ServingCertFile: servingCert,
		ServingKeyFile:  servingKey,

		ClusterDNS:    cfg.ClusterDNS,
		ClusterDomain: cfg.ClusterDomain,

		DisableDrainWait: cfg.DisableDrainWait,
	})
}

// chooseRuntime resolves auto: cri when a CRI socket is given or containerd
// is installed, else process.
func chooseRuntime(requested RuntimeKind, criSocket string) (RuntimeKind, error) {
	switch requested {
	case RuntimeProcess:
		return RuntimeProcess, nil
	case RuntimeCRI:
		if criSocket == "" && !containerd.Available() {
			return "", errors.New("--runtime=cri: containerd is not installed (apt-get install containerd runc containernetworking-plugins) and no --cri-socket was given")
		}
		return RuntimeCRI, nil
	case RuntimeAuto, "":
		if criSocket != "" || containerd.Available() {
			return RuntimeCRI, nil
		}
		return RuntimeProcess, nil
	}
	return "", fmt.Errorf("runtime %q: want auto, cri or process", requested)
}

// pauseImage finds the sandbox image tarball: the flag's, else
// ../images/pause.tar beside the running binary (build/bin/skiff →
// build/images/pause.tar).
func pauseImage(flag string) string {
	if flag != "" {
		return flag
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(filepath.Dir(exe)), "images", "pause.tar")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// localAddressTowards returns the local IP address the kernel would use to
// reach the server's host: the node's address as the server sees it. A
// server on loopback (the server's own node, agents on the same machine)
// would make that 127.0.0.1, which a pod cannot reach (it is the pod's own
// loopback): the node then takes the address of the host's default-route
// interface, as the kubelet does without --node-ip, and loopback only when
// the host has no such interface.
func localAddressTowards(server string) (string, error) {
	addr, err := dialAddress(server)
	if err != nil || !net.ParseIP(addr).IsLoopback() {
		return addr, err
	}
	if ip, err := utilnet.ChooseHostInterface(); err == nil {
		return ip.String(), nil
	}
	return addr, nil
}

// dialAddress is the local address of a UDP socket connected to the
// server's host.
func dialAddress(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("--server %q: %w", server, err)
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	conn, err := net.Dial("udp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return "", fmt.Errorf("finding the node's address towards %s (set --node-ip): %w", server, err)
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP.String(), nil
}

// bridgeName names the node's pod bridge after the node and its data dir,
// so that several agents on one machine (tests, demos, two clusters with a
// node of the same name) keep their networks apart; Linux allows 15
// characters.
func bridgeName(prefix, node, dataDir string) string {
	return localname.For(prefix, node, filepath.Clean(dataDir))
}
