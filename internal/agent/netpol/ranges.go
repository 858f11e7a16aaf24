package netpol

import (
	"encoding/binary"
	"net/netip"
	"sort"

	networkingv1 "k8s.io/api/networking/v1"
)

// span is an inclusive range of IPv4 addresses.
type span struct{ lo, hi uint32 }

// blockRanges is the union of the peers' ipBlocks (cidr less except) as
// the non-overlapping elements of an interval set: "a.b.c.d" or
// "a.b.c.d-e.f.g.h". IPv6 blocks are skipped (only IPv4 is policed).
func blockRanges(peers []networkingv1.NetworkPolicyPeer) []string {
	var spans []span
	for _, peer := range peers {
		if peer.IPBlock == nil {
			continue
		}
		cidr, ok := prefixSpan(peer.IPBlock.CIDR)
		if !ok {
			continue
		}
		block := []span{cidr}
		for _, e := range peer.IPBlock.Except {
			if ex, ok := prefixSpan(e); ok {
				block = subtract(block, ex)
			}
		}
		spans = append(spans, block...)
	}
	spans = merge(spans)
	out := make([]string, 0, len(spans))
	for _, s := range spans {
		if s.lo == s.hi {
			out = append(out, addr(s.lo))
		} else {
			out = append(out, addr(s.lo)+"-"+addr(s.hi))
		}
	}
	return out
}

func prefixSpan(cidr string) (span, bool) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return span{}, false
	}
	p = p.Masked()
	b := p.Addr().As4()
	lo := binary.BigEndian.Uint32(b[:])
	size := uint64(1) << (32 - p.Bits())
	return span{lo, uint32(uint64(lo) + size - 1)}, true
}

func subtract(spans []span, ex span) []span {
	var out []span
	for _, s := range spans {
		if ex.hi < s.lo || ex.lo > s.hi {
			out = append(out, s)
			continue
		}
		if ex.lo > s.lo {
			out = append(out, span{s.lo, ex.lo - 1})
		}
		if ex.hi < s.hi {
			out = append(out, span{ex.hi + 1, s.hi})
		}
	}
	return out
}

func merge(spans []span) []span {
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
	var out []span
	for _, s := range spans {
		if n := len(out); n > 0 && (out[n-1].hi == ^uint32(0) || s.lo <= out[n-1].hi+1) {
			if s.hi > out[n-1].hi {
				out[n-1].hi = s.hi
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

func addr(v uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b).String()
}
