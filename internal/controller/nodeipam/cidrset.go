package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
)

// errCIDRsExhausted is returned when every subnet of the cluster CIDR is taken.
var errCIDRsExhausted = errors.New("no remaining CIDRs left to allocate in the cluster CIDR")

// cidrSet hands out the subnets of one size of a cluster CIDR. It is not
// safe for concurrent use.
type cidrSet struct {
	cluster netip.Prefix
	bits    int    // prefix length of a subnet
	count   uint64 // number of subnets, capped at 2^62
	used    map[uint64]bool
	next    uint64
}

func newCIDRSet(cluster netip.Prefix, bits int) (*cidrSet, error) {
	cluster = cluster.Masked()
	if bits < cluster.Bits() || bits > cluster.Addr().BitLen() {
		return nil, fmt.Errorf("node CIDR mask size /%d does not fit in cluster CIDR %s", bits, cluster)
	}
	subnetBits := bits - cluster.Bits()
	count := uint64(1) << 62
	if subnetBits < 62 {
		count = uint64(1) << subnetBits
	}
	return &cidrSet{cluster: cluster, bits: bits, count: count, used: map[uint64]bool{}}, nil
}

// allocate returns a free subnet and marks it used.
func (s *cidrSet) allocate() (netip.Prefix, error) {
	if uint64(len(s.used)) >= s.count {
		return netip.Prefix{}, errCIDRsExhausted
	}
	for range s.count {
		i := s.next
		s.next = (s.next + 1) % s.count
		if !s.used[i] {
			s.used[i] = true
			return s.subnet(i), nil
		}
	}
	return netip.Prefix{}, errCIDRsExhausted
}

// occupy marks cidr used; it reports false when cidr is not one of the
// set's subnets.
func (s *cidrSet) occupy(cidr netip.Prefix) bool {
	i, ok := s.index(cidr)
	if ok {
		s.used[i] = true
	}
	return ok
}

// release frees cidr.
func (s *cidrSet) release(cidr netip.Prefix) {
	if i, ok := s.index(cidr); ok {
		delete(s.used, i)
	}
}

// index returns the position of cidr among the subnets.
func (s *cidrSet) index(cidr netip.Prefix) (uint64, bool) {
	if cidr.Bits() != s.bits || !s.cluster.Contains(cidr.Addr()) || cidr.Addr().BitLen() != s.cluster.Addr().BitLen() {
		return 0, false
	}
	off := new(big.Int).Sub(new(big.Int).SetBytes(cidr.Masked().Addr().AsSlice()), new(big.Int).SetBytes(s.cluster.Addr().AsSlice()))
	off.Rsh(off, uint(cidr.Addr().BitLen()-s.bits))
	if !off.IsUint64() || off.Uint64() >= s.count {
		return 0, false
	}
	return off.Uint64(), true
}

// subnet returns the i-th subnet.
func (s *cidrSet) subnet(i uint64) netip.Prefix {
	hostBits := s.cluster.Addr().BitLen() - s.bits
	b := new(big.Int).SetBytes(s.cluster.Addr().AsSlice())
	b.Add(b, new(big.Int).Lsh(new(big.Int).SetUint64(i), uint(hostBits)))
	a, _ := netip.AddrFromSlice(b.FillBytes(make([]byte, s.cluster.Addr().BitLen()/8)))
	return netip.PrefixFrom(a, s.bits)
}
