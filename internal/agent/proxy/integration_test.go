//go:build integration

package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/knftables"

	"skiff.dev/skiff/internal/agent/nfttest"
	"skiff.dev/skiff/internal/wellknown"
)

// testNetwork is a "node" network namespace with a bridge and two "pod"
// namespaces on it, each pod running a TCP server that answers with its
// name and the address it saw the client come from.
type testNetwork struct {
	node, podA, podB string
	nodeIP           netip.Addr
	podCIDR          netip.Prefix
	ipA, ipB         netip.Addr
}

func newTestNetwork(t testing.TB, brNetfilter bool) *testNetwork {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft")
	}
	sfx := fmt.Sprintf("%d", time.Now().UnixNano()%1e8)
	n := &testNetwork{
		node: "skpx-n" + sfx, podA: "skpx-a" + sfx, podB: "skpx-b" + sfx,
		nodeIP:  netip.MustParseAddr("192.168.77.1"),
		podCIDR: netip.MustParsePrefix("10.244.1.0/24"),
		ipA:     netip.MustParseAddr("10.244.1.10"), ipB: netip.MustParseAddr("10.244.1.11"),
	}
	for _, ns := range []string{n.node, n.podA, n.podB} {
		nfttest.Sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		nfttest.Sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	in := func(args ...string) { nfttest.Sh(t, append([]string{"ip", "netns", "exec", n.node}, args...)...) }
	in("sysctl", "-qw", "net.ipv4.ip_forward=1")
	if _, err := os.Stat("/proc/sys/net/bridge"); err == nil {
		v := "0"
		if brNetfilter {
			v = "1"
		}
		in("sysctl", "-qw", "net.bridge.bridge-nf-call-iptables="+v)
	} else if brNetfilter {
		t.Skip("br_netfilter is not loaded")
	}
	in("ip", "link", "add", "br0", "type", "bridge")
	in("ip", "addr", "add", "10.244.1.1/24", "dev", "br0")
	in("ip", "link", "set", "br0", "up")
	// The node's "outside" interface: a veth pair (no dummy module here).
	in("ip", "link", "add", "ext0", "type", "veth", "peer", "name", "ext1")
	in("ip", "link", "set", "ext1", "up")
	in("ip", "addr", "add", n.nodeIP.String()+"/24", "dev", "ext0")
	in("ip", "link", "set", "ext0", "up")
	in("ip", "route", "add", "default", "dev", "ext0")
	for i, p := range []struct {
		ns string
		ip netip.Addr
	}{{n.podA, n.ipA}, {n.podB, n.ipB}} {
		host := fmt.Sprintf("vh%d", i)
		in("ip", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", p.ns)
		in("ip", "link", "set", host, "master", "br0", "up")
		// As the CNI bridge plugin's hairpinMode: with br_netfilter, a pod's
		// packet DNATed back to itself is bridged out the port it came in.
		in("ip", "link", "set", host, "type", "bridge_slave", "hairpin", "on")
		nfttest.Sh(t, "ip", "-n", p.ns, "addr", "add", p.ip.String()+"/24", "dev", "eth0")
		nfttest.Sh(t, "ip", "-n", p.ns, "link", "set", "eth0", "up")
		nfttest.Sh(t, "ip", "-n", p.ns, "route", "add", "default", "via", "10.244.1.1")
	}
	serve(t, n.podA, "a", netip.AddrPortFrom(n.ipA, 8080))
	serve(t, n.podB, "b", netip.AddrPortFrom(n.ipB, 8080))
	serveUDP(t, n.podA, "a", netip.AddrPortFrom(n.ipA, 8080))
	serveUDP(t, n.podB, "b", netip.AddrPortFrom(n.ipB, 8080))
	return n
}

// inNetns runs f on a locked OS thread switched into the named namespace;
// sockets f creates belong to it.
func inNetns(name string, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return err
	}
	defer func() { _ = netns.Set(orig) }()
	return f()
}

func serve(t testing.TB, ns, name string, addr netip.AddrPort) {
	t.Helper()
	var ln net.Listener
	if err := inNetns(ns, func() (err error) { ln, err = net.Listen("tcp", addr.String()); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s %s\n", name, c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
}

// serveUDP answers every datagram with the pod's name.
func serveUDP(t testing.TB, ns, name string, addr netip.AddrPort) {
	t.Helper()
	var pc net.PacketConn
	if err := inNetns(ns, func() (err error) { pc, err = net.ListenPacket("udp", addr.String()); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(name), from)
		}
	}()
}

// askUDP sends one datagram from namespace ns to addr and returns the
// answer.
func askUDP(ns, addr string) (string, error) {
	var c net.Conn
	if err := inNetns(ns, func() (err error) { c, err = net.Dial("udp", addr); return err }); err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("?")); err != nil {
		return "", err
	}
	buf := make([]byte, 64)
	k, err := c.Read(buf)
	return string(buf[:k]), err
}

// ask connects from namespace ns to addr and returns the answer: the
// backend's name and the client address it saw.
func ask(ns, addr string) (name, seen string, err error) {
	var c net.Conn
	if err := inNetns(ns, func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return err
	}); err != nil {
		return "", "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", "", err
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		return "", "", fmt.Errorf("answer %q", line)
	}
	return f[0], f[1], nil
}

type runningProxy struct {
	p      *Proxy
	cancel context.CancelFunc
	done   chan error
}

func startProxy(t testing.TB, n *testNetwork, client *fake.Clientset, table string, keep bool) *runningProxy {
	t.Helper()
	nft, err := knftables.New(knftables.IPv4Family, table)
	if err != nil {
		t.Fatal(err)
	}
	sysctl := func(name, value string) error {
		return exec.Command("ip", "netns", "exec", n.node, "sysctl", "-qw", strings.ReplaceAll(name, "/", ".")+"="+value).Run()
	}
	readSysctl := func(name string) (string, error) {
		out, err := exec.Command("ip", "netns", "exec", n.node, "sysctl", "-n", strings.ReplaceAll(name, "/", ".")).Output()
		return strings.TrimSpace(string(out)), err
	}
	p, err := New(Config{
		Client: client, NodeName: "node-a", NodeIPs: []netip.Addr{n.nodeIP},
		PodCIDR: n.podCIDR, TableName: table, NFT: nft, KeepRules: keep, LabelNode: true,
		SetSysctl: sysctl, ReadSysctl: readSysctl,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rp := &runningProxy{p: p, cancel: cancel, done: make(chan error, 1)}
	go func() { rp.done <- p.Run(ctx) }()
	select {
	case <-p.Synced():
	case err := <-rp.done:
		t.Fatalf("proxy stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("proxy did not sync")
	}
	return rp
}

func (rp *runningProxy) stop(t testing.TB) {
	rp.cancel()
	if err := <-rp.done; err != nil {
		t.Errorf("proxy: %v", err)
	}
}

func nftJSON(t testing.TB, ns, table string) map[string]int {
	t.Helper()
	out := nfttest.Sh(t, "ip", "netns", "exec", ns, "nft", "-j", "list", "table", "ip", table)
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	// rule handles by "chain|index"
	handles := map[string]int{}
	idx := map[string]int{}
	for _, o := range doc.Nftables {
		raw, ok := o["rule"]
		if !ok {
			continue
		}
		var r struct {
			Chain  string `json:"chain"`
			Handle int    `json:"handle"`
		}
		_ = json.Unmarshal(raw, &r)
		handles[fmt.Sprintf("%s|%d", r.Chain, idx[r.Chain])] = r.Handle
		idx[r.Chain]++
	}
	return handles
}

func tablesNamed(t testing.TB, ns, table string) int {
	out := nfttest.Sh(t, "ip", "netns", "exec", ns, "nft", "list", "tables")
	return strings.Count(out, "table ip "+table+"\n")
}

func poll(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		ok, err := cond()
		last = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: %v (last: %v)", what, err, last)
	}
}

// TestProxyInNetns runs a proxy in a node namespace, with and without
// br_netfilter (which changes how pods on one bridge reach each other
// through a Service).
func TestProxyInNetns(t *testing.T) {
	for _, brnf := range []bool{false, true} {
		t.Run(fmt.Sprintf("br_netfilter=%v", brnf), func(t *testing.T) { testProxyInNetns(t, brnf) })
	}
}

func testProxyInNetns(t *testing.T, brNetfilter bool) {
	n := newTestNetwork(t, brNetfilter)
	nfttest.NftIn(t, n.node)
	ctx := context.Background()
	table := TableName("node-a", t.TempDir())
	client := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}})
	nodeLabel := func() string {
		node, err := client.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return node.Labels[wellknown.ServiceProxyLabel]
	}
	both := func(name string) *discoveryv1.EndpointSlice {
		return slice(name, readyLocal(n.ipA.String()), readyLocal(n.ipB.String()))
	}
	create := func(s *corev1.Service, sl *discoveryv1.EndpointSlice) {
		if _, err := client.CoreV1().Services("ns").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if sl != nil {
			if _, err := client.DiscoveryV1().EndpointSlices("ns").Create(ctx, sl, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	create(testService("web", "10.96.0.10", 80, 30080, false), both("web"))
	create(testService("sticky", "10.96.0.11", 80, 0, true), both("sticky"))
	create(testService("empty", "10.96.0.12", 80, 30082, false), slice("empty"))
	udpSvc := testService("udp", "10.96.0.13", 53, 0, false)
	udpSvc.Spec.Ports[0].Protocol = corev1.ProtocolUDP
	udpSlice := both("udp")
	udpSlice.Ports[0].Protocol = &udpSvc.Spec.Ports[0].Protocol
	create(udpSvc, udpSlice)

	rp := startProxy(t, n, client, table, true)
	poll(t, "node labelled", func() (bool, error) { return nodeLabel() == "true", nil })
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "exec", n.node, "nft", "delete", "table", "ip", table).Run() })

	spread := func(t *testing.T, from, addr string, wantSeen func(backend, seen string) error) {
		t.Helper()
		got := map[string]int{}
		for i := 0; i < 40; i++ {
			name, seen, err := ask(from, addr)
			if err != nil {
				out, _ := exec.Command("sh", "-c", "ip -n "+from+" route get 10.96.0.10; ip -n "+from+" neigh; ip -n "+n.node+" neigh; cat /proc/net/nf_conntrack 2>&1 | head -3; ip netns exec "+n.node+" nstat -az | grep -i -e Forw -e InDisc -e InNoRout -e InAddrErr -e OutNoRout -e Martian -e Drop").CombinedOutput()
				t.Logf("debug:\n%s", out)
				t.Fatalf("request %d to %s from %s: %v", i, addr, from, err)
			}
			if wantSeen != nil {
				if err := wantSeen(name, seen); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			got[name]++
			t.Logf("request %d: %s saw %s", i, name, seen)
		}
		if got["a"] == 0 || got["b"] == 0 {
			t.Errorf("%s from %s: answers %v, want both backends", addr, from, got)
		}
	}
	t.Run("ClusterIP from the node", func(t *testing.T) { spread(t, n.node, "10.96.0.10:80", nil) })
	t.Run("ClusterIP from a pod, hairpin and same bridge", func(t *testing.T) {
		spread(t, n.podA, "10.96.0.10:80", func(backend, seen string) error {
			// Hairpin and bridge reflection are masqueraded to the bridge
			// address, so the reply comes back through the node.
			if seen != "10.244.1.1" {
				return fmt.Errorf("backend %s saw the client as %s, want 10.244.1.1", backend, seen)
			}
			return nil
		})
	})
	t.Run("NodePort on the node's address and 127.0.0.1", func(t *testing.T) {
		spread(t, n.node, n.nodeIP.String()+":30080", nil)
		spread(t, n.node, "127.0.0.1:30080", nil)
	})
	t.Run("UDP", func(t *testing.T) {
		got := map[string]int{}
		for i := 0; i < 30; i++ {
			name, err := askUDP(n.podB, "10.96.0.13:53")
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			got[name]++
		}
		if got["a"] == 0 || got["b"] == 0 {
			t.Errorf("answers %v, want both backends", got)
		}
	})
	t.Run("session affinity keeps one client on one backend", func(t *testing.T) {
		first, _, err := ask(n.podA, "10.96.0.11:80")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			name, _, err := ask(n.podA, "10.96.0.11:80")
			if err != nil {
				t.Fatal(err)
			}
			if name != first {
				t.Fatalf("request %d went to %s, first to %s", i, name, first)
			}
		}
	})
	t.Run("no endpoints rejects at once", func(t *testing.T) {
		for _, addr := range []string{"10.96.0.12:80", n.nodeIP.String() + ":30082"} {
			for _, from := range []string{n.node, n.podA} {
				start := time.Now()
				_, _, err := ask(from, addr)
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("%s from %s: err %v, want connection refused", addr, from, err)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("%s from %s: rejected after %v", addr, from, d)
				}
			}
		}
	})
	t.Run("a change to one Service leaves the others' rules alone", func(t *testing.T) {
		before := nftJSON(t, n.node, table)
		sl := slice("sticky", readyLocal(n.ipB.String()))
		if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(ctx, sl, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		poll(t, "sticky has only b", func() (bool, error) {
			for i := 0; i < 5; i++ {
				name, _, err := ask(n.node, "10.96.0.11:80")
				if err != nil || name != "b" {
					return false, err
				}
			}
			return true, nil
		})
		after := nftJSON(t, n.node, table)
		changed, kept := 0, 0
		for k, h := range before {
			if strings.Contains(k, "ns/sticky") {
				continue
			}
			if after[k] != h {
				t.Errorf("rule %s rewritten (handle %d -> %d)", k, h, after[k])
				changed++
			} else {
				kept++
			}
		}
		if kept == 0 {
			t.Error("no rule of another Service found")
		}
	})
	t.Run("a deleted endpoint leaves the Service", func(t *testing.T) {
		sl := slice("web", readyLocal(n.ipA.String()), epSpec{ip: n.ipB.String(), node: "node-a"})
		if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(ctx, sl, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		poll(t, "web has only a", func() (bool, error) {
			for i := 0; i < 10; i++ {
				name, _, err := ask(n.node, "10.96.0.10:80")
				if err != nil || name != "a" {
					return false, err
				}
			}
			return true, nil
		})
	})

	// Restart: the rules stayed (KeepRules), the new proxy adopts them.
	rp.stop(t)
	if got := tablesNamed(t, n.node, table); got != 1 {
		t.Fatalf("after a kept stop: %d tables", got)
	}
	rp = startProxy(t, n, client, table, false)
	t.Run("restart adopts the table", func(t *testing.T) {
		if got := tablesNamed(t, n.node, table); got != 1 {
			t.Errorf("%d tables named %s", got, table)
		}
		out := nfttest.Sh(t, "ip", "netns", "exec", n.node, "nft", "list", "chain", "ip", table, chainServices)
		if c := strings.Count(out, "vmap"); c != 2 {
			t.Errorf("services chain has %d rules, want 2:\n%s", c, out)
		}
		if name, _, err := ask(n.node, "10.96.0.10:80"); err != nil || name != "a" {
			t.Errorf("after restart: %s, %v", name, err)
		}
	})
	rp.stop(t)
	if got := tablesNamed(t, n.node, table); got != 0 {
		t.Errorf("after stop: %d tables, want none", got)
	}
	if v := nodeLabel(); v != "" {
		t.Errorf("after stop the node is still labelled %s=%q", wellknown.ServiceProxyLabel, v)
	}
}
