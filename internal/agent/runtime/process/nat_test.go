//go:build integration

package process

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// outsideHost is a network namespace standing for a machine beyond the
// node: a veth from the host with a /30 of 198.18.0.0/15 (the benchmarking
// range), and a TCP server that answers with the address it sees.
type outsideHost struct {
	hostAddr, addr string
}

func startOutsideHost(t *testing.T) *outsideHost {
	t.Helper()
	suffix := randHex(3)
	path := filepath.Join(netnsDir, "sktest-out-"+suffix)
	if err := createNetns(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteNetns(path) })
	b := randHex(1)
	var third int
	fmt.Sscanf(b, "%x", &third)
	o := &outsideHost{hostAddr: fmt.Sprintf("198.18.%d.1", third), addr: fmt.Sprintf("198.18.%d.2", third)}

	hostSide, outSide := "skho"+suffix, "skoo"+suffix
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostSide}, PeerName: outSide}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(hostSide); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	host, err := netlink.LinkByName(hostSide)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(host, mustAddr(t, o.hostAddr+"/30")); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		t.Fatal(err)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	peer, err := netlink.LinkByName(outSide)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetNsFd(peer, int(ns)); err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, name := range []string{outSide, "lo"} {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == outSide {
			if err := h.AddrAdd(l, mustAddr(t, o.addr+"/30")); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}

	// The listener is made on a thread inside the namespace and stays there.
	lc := make(chan net.Listener, 1)
	var lerr error
	onThrowawayThread(func() {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			lerr = err
			lc <- nil
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			lerr = err
			lc <- nil
			return
		}
		l, err := net.Listen("tcp", o.addr+":9000")
		lerr = err
		lc <- l
	})
	l := <-lc
	if l == nil {
		t.Fatalf("listen in the outside namespace: %v", lerr)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			fmt.Fprintln(c, host)
			c.Close()
		}
	}()
	return o
}

func mustAddr(t *testing.T, cidr string) *netlink.Addr {
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A pod reaches an address beyond the node, seen there with the node's
// address (the outside host has no route to the pod CIDR); the rule goes
// with the runtime.
func TestOutboundNAT(t *testing.T) {
	e := newTestRuntime(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("needs iptables")
	}
	out := startOutsideHost(t)
	ctx := context.Background()
	sid, _ := e.sandbox(t, "nat")
	st, err := e.r.PodSandboxStatus(ctx, sid, true)
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := dialInNetns(dctx, st.Info["netns"], out.addr+":9000")
	if err != nil {
		t.Fatalf("the pod cannot reach %s beyond the node: %v", out.addr, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	seen, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	if seen = strings.TrimSpace(seen); seen != out.hostAddr {
		t.Errorf("the outside host saw the pod as %s, want the node's %s (pod IP %s)", seen, out.hostAddr, st.Status.Network.GetIp())
	}

	rule := strings.Join(e.r.net.masqueradeRule(), " ")
	if err := e.r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if natRulesMention(t, "skiff process runtime "+e.bridge) {
		t.Errorf("the rule %q is still in the nat table after Close", rule)
	}
}

// natRulesMention reports whether a rule of the nat table has s.
func natRulesMention(t *testing.T, s string) bool {
	t.Helper()
	b, err := exec.Command("iptables", "-w", "-t", "nat", "-S").Output()
	if err != nil {
		t.Fatalf("iptables -t nat -S: %v", err)
	}
	return strings.Contains(string(b), s)
}
