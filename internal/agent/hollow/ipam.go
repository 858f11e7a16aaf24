package hollow

import (
	"errors"
	"net/netip"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// errPodCIDRFull is returned when a node's pod CIDR has no free address.
var errPodCIDRFull = errors.New("no free address in the node's pod CIDR")

// ipAllocator hands out the addresses of one node's pod CIDR, skipping the
// network address, the first address (the bridge's, by convention) and the
// IPv4 broadcast address.
type ipAllocator struct {
	mu    sync.Mutex
	cidr  netip.Prefix
	size  uint64
	next  uint64
	byIP  map[netip.Addr]types.UID
	byUID map[types.UID]netip.Addr
}

func newIPAllocator(cidr netip.Prefix) *ipAllocator {
	hostBits := cidr.Addr().BitLen() - cidr.Bits()
	size := uint64(1) << 62
	if hostBits < 62 {
		size = uint64(1) << hostBits
	}
	return &ipAllocator{cidr: cidr.Masked(), size: size, next: 2, byIP: map[netip.Addr]types.UID{}, byUID: map[types.UID]netip.Addr{}}
}

// allocate returns the pod's address, the same on every call.
func (a *ipAllocator) allocate(uid types.UID) (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ip, ok := a.byUID[uid]; ok {
		return ip, nil
	}
	last := a.size - 1 // IPv4 broadcast; harmless to skip for IPv6
	usable := uint64(0)
	if last > 2 {
		usable = last - 2
	}
	for i := uint64(0); i < usable; i++ {
		off := a.next
		a.next++
		if a.next >= last {
			a.next = 2
		}
		ip := nthAddr(a.cidr, off)
		if _, taken := a.byIP[ip]; !taken {
			a.byIP[ip] = uid
			a.byUID[uid] = ip
			return ip, nil
		}
	}
	return netip.Addr{}, errPodCIDRFull
}

// claim records an address a pod already has (after a restart).
func (a *ipAllocator) claim(uid types.UID, ip netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.cidr.Contains(ip) {
		return
	}
	if _, taken := a.byIP[ip]; taken {
		return
	}
	a.byIP[ip] = uid
	a.byUID[uid] = ip
}

// release frees the pod's address.
func (a *ipAllocator) release(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ip, ok := a.byUID[uid]; ok {
		delete(a.byUID, uid)
		delete(a.byIP, ip)
	}
}
