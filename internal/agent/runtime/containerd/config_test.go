package containerd

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestContainerdConfig(t *testing.T) {
	cfg := Config{StateDir: "/data/containerd", CNIConfDir: "/data/cni/net.d", PodCIDR: netip.MustParsePrefix("10.244.1.0/24")}
	cfg.setDefaults()
	toml := cfg.containerdConfig()
	for _, want := range []string{
		"version = 2",
		`root = "/data/containerd/root"`,
		`state = "/data/containerd/state"`,
		`address = "/data/containerd/containerd.sock"`,
		`sandbox_image = "localhost/skiff/pause:3.10"`,
		"restrict_oom_score_adj = true",
		"disable_apparmor = true",
		"tolerate_missing_hugetlb_controller = true",
		"netns_mounts_under_state_dir = true",
		`stream_server_address = "127.0.0.1"`,
		`stream_server_port = "0"`,
		`snapshotter = "overlayfs"`,
		`runtime_type = "io.containerd.runc.v2"`,
		"SystemdCgroup = false",
		`Root = "/data/containerd/runc"`,
		`conf_dir = "/data/cni/net.d"`,
	} {
		if !strings.Contains(toml, want) {
			t.Errorf("config.toml lacks %q:\n%s", want, toml)
		}
	}
}

func TestConflist(t *testing.T) {
	for _, tc := range []struct {
		cidr, bridge      string
		wantSubnet, route string
		wantBridge        string
	}{
		{"10.244.1.0/24", "", "10.244.1.0/24", "0.0.0.0/0", "skiff-cni0"},
		{"10.245.7.9/24", "skct1", "10.245.7.0/24", "0.0.0.0/0", "skct1"},
		{"fd00:10:244:1::/64", "", "fd00:10:244:1::/64", "::/0", "skiff-cni0"},
	} {
		t.Run(tc.cidr, func(t *testing.T) {
			cfg := Config{StateDir: "/s", PodCIDR: netip.MustParsePrefix(tc.cidr), BridgeName: tc.bridge}
			cfg.setDefaults()
			data, err := cfg.conflist()
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				CNIVersion string `json:"cniVersion"`
				Name       string
				Plugins    []struct {
					Type                           string
					Bridge                         string
					IsGateway, HairpinMode, IPMasq bool
					IPAM                           struct {
						Type    string
						Ranges  [][]struct{ Subnet string }
						Routes  []struct{ Dst string }
						DataDir string
					}
				}
			}
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, p := range got.Plugins {
				types = append(types, p.Type)
			}
			if diff := cmp.Diff([]string{"bridge", "portmap", "loopback"}, types); diff != "" {
				t.Errorf("plugins (-want +got):\n%s", diff)
			}
			b := got.Plugins[0]
			if got.CNIVersion != "1.0.0" || got.Name != tc.wantBridge || b.Bridge != tc.wantBridge ||
				!b.IsGateway || !b.HairpinMode || !b.IPMasq || b.IPAM.Type != "host-local" ||
				len(b.IPAM.Ranges) != 1 || b.IPAM.Ranges[0][0].Subnet != tc.wantSubnet ||
				len(b.IPAM.Routes) != 1 || b.IPAM.Routes[0].Dst != tc.route || b.IPAM.DataDir != "/s/cni-ipam" {
				t.Errorf("conflist:\n%s", data)
			}
		})
	}
}

func TestSplitRule(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"-N CNI-abc", []string{"-N", "CNI-abc"}},
		{`-A POSTROUTING -s 10.245.3.2/32 -m comment --comment "name: \"skct1\" id: \"c0ffee\"" -j CNI-abc`,
			[]string{"-A", "POSTROUTING", "-s", "10.245.3.2/32", "-m", "comment", "--comment", `name: "skct1" id: "c0ffee"`, "-j", "CNI-abc"}},
		{"", nil},
	} {
		if diff := cmp.Diff(tc.want, splitRule(tc.line)); diff != "" {
			t.Errorf("splitRule(%q) (-want +got):\n%s", tc.line, diff)
		}
	}
}

func TestUnescapeMountPath(t *testing.T) {
	for in, want := range map[string]string{
		`/a/b`:         "/a/b",
		`/a\040b/c`:    "/a b/c",
		`/tail\04`:     `/tail\04`,
		`/x\134y\011z`: "/x\\y\tz",
	} {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("unescapeMountPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCleanupIPTables checks that the rules and chains of a pod whose CNI
// DEL never ran are removed, and only those of the runtime's network.
func TestCleanupIPTables(t *testing.T) {
	requireContainerd(t)
	network, other := fmt.Sprintf("skct%04x", rand.IntN(1<<16)), fmt.Sprintf("skco%04x", rand.IntN(1<<16))
	ours, theirs := "CNI-"+network, "CNI-"+other
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("iptables", append([]string{"-w", "-t", "nat"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("iptables %v: %v: %s", args, err, out)
		}
	}
	for _, c := range []struct{ chain, net, src string }{{ours, network, "192.0.2.1/32"}, {theirs, other, "192.0.2.2/32"}} {
		run("-N", c.chain)
		run("-A", c.chain, "-d", "192.0.2.0/24", "-m", "comment", "--comment", fmt.Sprintf("name: %q id: \"x\"", c.net), "-j", "ACCEPT")
		run("-A", "POSTROUTING", "-s", c.src, "-m", "comment", "--comment", fmt.Sprintf("name: %q id: \"x\"", c.net), "-j", c.chain)
	}
	t.Cleanup(func() {
		_ = exec.Command("iptables", "-w", "-t", "nat", "-D", "POSTROUTING", "-s", "192.0.2.2/32", "-m", "comment", "--comment", fmt.Sprintf("name: %q id: \"x\"", other), "-j", theirs).Run()
		_ = exec.Command("iptables", "-w", "-t", "nat", "-F", theirs).Run()
		_ = exec.Command("iptables", "-w", "-t", "nat", "-X", theirs).Run()
	})

	if err := cleanupIPTables(network, testLogger(t)); err != nil {
		t.Fatalf("cleanupIPTables: %v", err)
	}
	out, err := exec.Command("iptables-save", "-t", "nat").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(out), "\n")
	if slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, network) }) {
		t.Errorf("rules of %s left:\n%s", network, out)
	}
	if !strings.Contains(string(out), "-j "+theirs) {
		t.Errorf("rules of the other network %s were removed:\n%s", other, out)
	}
}
