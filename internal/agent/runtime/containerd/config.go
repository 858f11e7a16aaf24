package containerd

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// SandboxImage is the pause image every pod sandbox of a containerd the
// agent starts runs; Config.PauseImage is imported under this name.
const SandboxImage = "localhost/skiff/pause:3.10"

// DefaultBridgeName is the Linux bridge the pod network of a containerd the
// agent starts uses unless Config.BridgeName says otherwise.
const DefaultBridgeName = "skiff-cni0"

// conflistName is the file the runtime writes the pod network's CNI
// configuration to, in Config.CNIConfDir.
const conflistName = "10-skiff.conflist"

// maxSocketPath is the longest path a unix socket can have on Linux.
const maxSocketPath = 107

// cniPlugins are the CNI plugins the pod network needs.
var cniPlugins = []string{"bridge", "host-local", "portmap", "loopback"}

// cniBinDirs are where CNI plugins are looked for, the first with all of
// cniPlugins wins; the last is the default.
var cniBinDirs = []string{"/opt/cni/bin", "/usr/lib/cni"}

// Config configures the runtime.
type Config struct {
	// Endpoint is the CRI endpoint of a containerd the user runs (e.g.
	// unix:///run/containerd/containerd.sock). When set, the runtime only
	// connects to it and every other field but Logger is ignored.
	Endpoint string

	// StateDir holds the containerd the runtime starts: config.toml,
	// root/, state/, the socket (SocketPath) and containerd.log.
	StateDir string
	// CNIConfDir is where the pod network's CNI configuration is written.
	CNIConfDir string
	// PodCIDR is the range pod IPs are allocated from on this node.
	PodCIDR netip.Prefix
	// ClusterCIDR is the range of every node's pod CIDR: traffic from this
	// node's pods to it keeps its source address (a rule ahead of the CNI
	// bridge plugin's masquerade). Optional; without it traffic to pods on
	// other nodes is masqueraded.
	ClusterCIDR netip.Prefix
	// BridgeName is the pod network's bridge; default DefaultBridgeName.
	// It also names the CNI network, so two runtimes on one machine need
	// different bridges.
	BridgeName string
	// PauseImage is a docker-archive tarball of SandboxImage, imported
	// unless containerd already has that image.
	PauseImage string

	Logger *slog.Logger
}

// SocketPath is the containerd socket of a runtime whose StateDir is
// stateDir.
func SocketPath(stateDir string) string {
	return filepath.Join(stateDir, "containerd.sock")
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.BridgeName == "" {
		c.BridgeName = DefaultBridgeName
	}
}

func (c *Config) validate() error {
	for _, dir := range []*string{&c.StateDir, &c.CNIConfDir} {
		if *dir != "" {
			abs, err := filepath.Abs(*dir)
			if err != nil {
				return fmt.Errorf("containerd: %w", err)
			}
			*dir = abs
		}
	}
	switch {
	case c.StateDir == "":
		return fmt.Errorf("containerd: no state dir")
	case c.CNIConfDir == "":
		return fmt.Errorf("containerd: no CNI config dir")
	case !c.PodCIDR.IsValid():
		return fmt.Errorf("containerd: no pod CIDR")
	case len(SocketPath(c.StateDir)+".ttrpc") > maxSocketPath:
		return fmt.Errorf("containerd: state dir %s is too long a path for containerd's sockets", c.StateDir)
	case len(c.BridgeName) > 15:
		return fmt.Errorf("containerd: bridge name %q is longer than 15 characters", c.BridgeName)
	}
	return nil
}

// networkName is the CNI network's name; CNI keys its iptables rules and
// results on it.
func (c *Config) networkName() string { return c.BridgeName }

func (c *Config) configPath() string   { return filepath.Join(c.StateDir, "config.toml") }
func (c *Config) logPath() string      { return filepath.Join(c.StateDir, "containerd.log") }
func (c *Config) conflistPath() string { return filepath.Join(c.CNIConfDir, conflistName) }

// cniBinDir is the first of cniBinDirs that has all the plugins needed.
func cniBinDir() string {
	for _, dir := range cniBinDirs {
		all := true
		for _, p := range cniPlugins {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				all = false
				break
			}
		}
		if all {
			return dir
		}
	}
	return cniBinDirs[len(cniBinDirs)-1]
}

// disabledPlugins are containerd plugins the runtime does not use and that
// would write outside StateDir or need what this kind of machine lacks.
var disabledPlugins = []string{
	"io.containerd.internal.v1.opt", // it would create /opt/containerd
	// Only overlayfs is used.
	"io.containerd.snapshotter.v1.aufs",
	"io.containerd.snapshotter.v1.btrfs",
	"io.containerd.snapshotter.v1.devmapper",
	"io.containerd.snapshotter.v1.zfs",
	"io.containerd.tracing.processor.v1.otlp",
	"io.containerd.internal.v1.tracing",
}

// containerdConfig is the config.toml (version 2) of the containerd the
// runtime starts.
func (c *Config) containerdConfig() string {
	q := strconv.Quote
	var disabled []string
	for _, p := range disabledPlugins {
		disabled = append(disabled, q(p))
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Written by skiff; rewritten at every start.")
	w("version = 2")
	w("root = %s", q(filepath.Join(c.StateDir, "root")))
	w("state = %s", q(filepath.Join(c.StateDir, "state")))
	w("disabled_plugins = [%s]", strings.Join(disabled, ", "))
	w("")
	w("[grpc]")
	w("  address = %s", q(SocketPath(c.StateDir)))
	w("")
	w(`[plugins."io.containerd.grpc.v1.cri"]`)
	w("  sandbox_image = %s", q(SandboxImage))
	// Without CAP_SYS_RESOURCE (a VM like this one) runc cannot lower a
	// process's oom_score_adj, and every sandbox fails to start.
	w("  restrict_oom_score_adj = true")
	w("  disable_apparmor = true")
	w("  tolerate_missing_hugetlb_controller = true")
	w("  netns_mounts_under_state_dir = true")
	w(`  stream_server_address = "127.0.0.1"`)
	w(`  stream_server_port = "0"`)
	w(`  [plugins."io.containerd.grpc.v1.cri".containerd]`)
	w(`    snapshotter = "overlayfs"`)
	w(`    default_runtime_name = "runc"`)
	w(`    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]`)
	w(`      runtime_type = "io.containerd.runc.v2"`)
	w(`      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]`)
	w("        SystemdCgroup = false")
	w("        Root = %s", q(filepath.Join(c.StateDir, "runc")))
	w(`  [plugins."io.containerd.grpc.v1.cri".cni]`)
	w("    bin_dir = %s", q(cniBinDir()))
	w("    conf_dir = %s", q(c.CNIConfDir))
	w("    max_conf_num = 1")
	return b.String()
}

// conflist is the CNI configuration of the pod network: a bridge that is
// the pods' gateway and masquerades their traffic, host-local addresses
// from PodCIDR with a default route, host ports and loopback.
func (c *Config) conflist() ([]byte, error) {
	defaultRoute := "0.0.0.0/0"
	if c.PodCIDR.Addr().Is6() {
		defaultRoute = "::/0"
	}
	type obj = map[string]any
	conf := obj{
		"cniVersion": "1.0.0",
		"name":       c.networkName(),
		"plugins": []obj{
			{
				"type":        "bridge",
				"bridge":      c.BridgeName,
				"isGateway":   true,
				"hairpinMode": true,
				"ipMasq":      true,
				"ipam": obj{
					"type":    "host-local",
					"ranges":  [][]obj{{{"subnet": c.PodCIDR.Masked().String()}}},
					"routes":  []obj{{"dst": defaultRoute}},
					"dataDir": filepath.Join(c.StateDir, "cni-ipam"),
				},
			},
			{"type": "portmap", "capabilities": obj{"portMappings": true}},
			{"type": "loopback"},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// writeConfigs writes containerd's config.toml and the CNI conflist.
func (c *Config) writeConfigs() error {
	for _, dir := range []string{c.StateDir, c.CNIConfDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("containerd: %w", err)
		}
	}
	if err := os.WriteFile(c.configPath(), []byte(c.containerdConfig()), 0o600); err != nil {
		return fmt.Errorf("containerd: write config: %w", err)
	}
	list, err := c.conflist()
	if err != nil {
		return fmt.Errorf("containerd: CNI config: %w", err)
	}
	if err := os.WriteFile(c.conflistPath(), list, 0o600); err != nil {
		return fmt.Errorf("containerd: write CNI config: %w", err)
	}
	return nil
}
