package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where pod network namespaces are bind-mounted, as `ip netns`
// does, so they can be inspected with `ip netns exec skiff-<id> ...`.
const netnsDir = "/run/netns"

// network gives pods their own network namespace, a veth into the node's
// bridge, and an address of the pod CIDR.
type network struct {
	bridge string
	ipam   *ipam
	// noMasq is where pod traffic keeps its source address: the cluster
	// CIDR, else the pod CIDR.
	noMasq netip.Prefix
	log    *slog.Logger

	mu            sync.Mutex
	bridgeReady   bool
	bridgeCreated bool // this runtime made the bridge (Close removes it)
	masquerading  bool // this runtime added its outbound NAT rule
	masqWarned    bool
	disabled      error
}

// podNetwork is what setup made for one sandbox.
type podNetwork struct {
	Netns string     `json:"netns"`
	Veth  string     `json:"veth"`
	IP    netip.Addr `json:"ip"`
}

func newNetwork(stateDir, bridge string, cidr, clusterCIDR netip.Prefix, log *slog.Logger) (*network, error) {
	a, err := newIPAM(filepath.Join(stateDir, "ipam.json"), cidr)
	if err != nil {
		return nil, err
	}
	noMasq := cidr.Masked()
	if clusterCIDR.IsValid() && clusterCIDR.Addr().Is4() == cidr.Addr().Is4() {
		noMasq = clusterCIDR.Masked()
	}
	return &network{bridge: bridge, ipam: a, noMasq: noMasq, log: log}, nil
}

// notPermitted reports whether err means the host does not let us make
// namespaces or links (an unprivileged agent, a restricted container).
func notPermitted(err error) bool {
	return errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) ||
		errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EROFS)
}

// setup makes the network of sandbox id. It returns errNoPodNetwork when
// the host does not permit pod networking (the pod then uses the host's).
func (n *network) setup(ctx context.Context, id string) (*podNetwork, error) {
	n.mu.Lock()
	if n.disabled != nil {
		n.mu.Unlock()
		return nil, errNoPodNetwork
	}
	if err := n.ensureBridgeLocked(); err != nil {
		if notPermitted(err) {
			n.disableLocked(err)
			n.mu.Unlock()
			return nil, errNoPodNetwork
		}
		n.mu.Unlock()
		return nil, err
	}
	n.mu.Unlock()

	ip, err := n.ipam.allocate(id)
	if err != nil {
		return nil, fmt.Errorf("allocate pod address: %w", err)
	}
	pn := &podNetwork{IP: ip, Netns: filepath.Join(netnsDir, "skiff-"+shortID(id)), Veth: "vsk" + shortID(id)}
	if err := n.build(pn); err != nil {
		n.teardown(pn)
		_ = n.ipam.release(id)
		if notPermitted(err) {
			n.mu.Lock()
			n.disableLocked(err)
			n.mu.Unlock()
			return nil, errNoPodNetwork
		}
		return nil, err
	}
	return pn, nil
}

var errNoPodNetwork = errors.New("pod networking is not available on this host")

func (n *network) disableLocked(err error) {
	n.disabled = err
	n.log.Warn("process runtime: cannot create network namespaces here, pods use the host network", "err", err)
}

// shortID is the part of an ID used in link and namespace names (a veth
// name has at most 15 bytes).
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (n *network) ensureBridgeLocked() error {
	if n.bridgeReady {
		if _, err := netlink.LinkByName(n.bridge); err == nil {
			return nil
		}
	}
	link, err := netlink.LinkByName(n.bridge)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if !errors.As(err, &notFound) {
			return fmt.Errorf("find bridge %s: %w", n.bridge, err)
		}
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.bridge}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge %s: %w", n.bridge, err)
		}
		n.bridgeCreated = true
		if link, err = netlink.LinkByName(n.bridge); err != nil {
			return fmt.Errorf("find bridge %s: %w", n.bridge, err)
		}
	} else {
		n.bridgeCreated = true // adopted: the agent owns a bridge of this name
	}
	gw := n.ipam.gateway()
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw.AsSlice(), Mask: net.CIDRMask(n.ipam.prefix.Bits(), gw.BitLen())}}
	if err := netlink.AddrAdd(link, addr); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("address bridge %s: %w", n.bridge, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring up bridge %s: %w", n.bridge, err)
	}
	// Pods reach other pods through the host (Services) only with
	// forwarding on, as the CNI bridge plugin's gateway mode does.
	sysctl := "/proc/sys/net/ipv4/ip_forward"
	if gw.Is6() {
		sysctl = "/proc/sys/net/ipv6/conf/all/forwarding"
	}
	_ = os.WriteFile(sysctl, []byte("1"), 0o644)
	if err := n.ensureMasqueradeLocked(); err != nil && !n.masqWarned {
		// Pods still reach the node and each other.
		n.masqWarned = true
		n.log.Warn("process runtime: no outbound NAT for pods", "bridge", n.bridge, "err", err)
	}
	n.bridgeReady = true
	return nil
}

// build creates the namespace and the veth of pn.
func (n *network) build(pn *podNetwork) error {
	if err := createNetns(pn.Netns); err != nil {
		return err
	}
	ns, err := netns.GetFromPath(pn.Netns)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", pn.Netns, err)
	}
	defer ns.Close()

	br, err := netlink.LinkByName(n.bridge)
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", n.bridge, err)
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: pn.Veth, MTU: br.Attrs().MTU, MasterIndex: br.Attrs().Index},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(int(ns)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s: %w", pn.Veth, err)
	}
	host, err := netlink.LinkByName(pn.Veth)
	if err != nil {
		return fmt.Errorf("find veth %s: %w", pn.Veth, err)
	}
	if err := netlink.LinkSetMaster(host, br); err != nil {
		return fmt.Errorf("attach veth %s to %s: %w", pn.Veth, n.bridge, err)
	}
	// Hairpin, as the CNI bridge plugin's hairpinMode: a pod that reaches
	// itself through a Service gets the reply back out of its own port.
	if err := netlink.LinkSetHairpin(host, true); err != nil {
		return fmt.Errorf("hairpin on veth %s: %w", pn.Veth, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("bring up veth %s: %w", pn.Veth, err)
	}

	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", pn.Netns, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo in pod: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bring up lo in pod: %w", err)
	}
	eth, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("find eth0 in pod: %w", err)
	}
	bits := n.ipam.prefix.Bits()
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: pn.IP.AsSlice(), Mask: net.CIDRMask(bits, pn.IP.BitLen())}}
	if err := h.AddrAdd(eth, addr); err != nil {
		return fmt.Errorf("address eth0 in pod: %w", err)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("bring up eth0 in pod: %w", err)
	}
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: n.ipam.gateway().AsSlice()}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("default route in pod: %w", err)
	}
	return nil
}

// teardown removes the veth and the namespace of pn (each if present).
func (n *network) teardown(pn *podNetwork) error {
	var errs []error
	if pn.Veth != "" {
		if link, err := netlink.LinkByName(pn.Veth); err == nil {
			if err := netlink.LinkDel(link); err != nil {
				errs = append(errs, fmt.Errorf("delete veth %s: %w", pn.Veth, err))
			}
		}
	}
	if pn.Netns != "" {
		if err := deleteNetns(pn.Netns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// releaseLink deletes the veth of pn and frees its address; the namespace
// stays until the sandbox is removed.
func (n *network) releaseLink(id string, pn *podNetwork) error {
	var errs []error
	if link, err := netlink.LinkByName(pn.Veth); err == nil {
		if err := netlink.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("delete veth %s: %w", pn.Veth, err))
		}
	}
	if err := n.ipam.release(id); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// close removes the bridge when this runtime made or adopted it.
func (n *network) close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	natErr := n.removeMasqueradeLocked()
	if !n.bridgeCreated {
		return natErr
	}
	n.bridgeCreated, n.bridgeReady = false, false
	link, err := netlink.LinkByName(n.bridge)
	if err != nil {
		return natErr
	}
	if err := netlink.LinkDel(link); err != nil {
		return errors.Join(natErr, fmt.Errorf("delete bridge %s: %w", n.bridge, err))
	}
	return natErr
}

// createNetns makes a new network namespace and bind-mounts it at path.
// The namespace is created by a thread that is discarded afterwards.
func createNetns(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("create network namespace file: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	onThrowawayThread(func() {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("create network namespace: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind network namespace at %s: %w", path, err)
			return
		}
		errc <- nil
	})
	if err := <-errc; err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// deleteNetns unmounts and removes a namespace file made by createNetns.
func deleteNetns(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("unmount network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove network namespace %s: %w", path, err)
	}
	return nil
}

// dialInNetns connects to addr from inside the network namespace at path.
func dialInNetns(ctx context.Context, path, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	resc := make(chan result, 1)
	onThrowawayThread(func() {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			resc <- result{err: fmt.Errorf("open network namespace %s: %w", path, err)}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			resc <- result{err: fmt.Errorf("join network namespace %s: %w", path, err)}
			return
		}
		// The socket is created on this thread, so in the pod's namespace.
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		resc <- result{c, err}
	})
	r := <-resc
	return r.c, r.err
}
