package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// The flag values below parse at flag time, so that the command's config is
// complete once the flags are. Their Type is "string", as the help shows.

// parsed is a flag whose text parse turns into a T at *p.
type parsed[T fmt.Stringer] struct {
	p     *T
	parse func(string) (T, error)
}

func (v parsed[T]) Type() string { return "string" }
func (v parsed[T]) String() string {
	if v.p == nil {
		return ""
	}
	return (*v.p).String()
}
func (v parsed[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return err
	}
	*v.p = x
	return nil
}

// newIPValue is a net.IP flag.
func newIPValue(ip *net.IP, def string) parsed[net.IP] {
	*ip = net.ParseIP(def)
	return parsed[net.IP]{ip, func(s string) (net.IP, error) {
		if ip := net.ParseIP(s); ip != nil {
			return ip, nil
		}
		return nil, fmt.Errorf("%q is not an IP address", s)
	}}
}

// newPrefixValue is a CIDR flag.
func newPrefixValue(p *netip.Prefix, def string) parsed[netip.Prefix] {
	*p = netip.MustParsePrefix(def)
	return parsed[netip.Prefix]{p, netip.ParsePrefix}
}

// portRangeValue is a MIN-MAX flag.
type portRangeValue struct{ min, max *int }

func newPortRangeValue(min, max *int, defMin, defMax int) portRangeValue {
	*min, *max = defMin, defMax
	return portRangeValue{min, max}
}

func (v portRangeValue) Type() string { return "string" }
func (v portRangeValue) String() string {
	if v.min == nil {
		return ""
	}
	return fmt.Sprintf("%d-%d", *v.min, *v.max)
}
func (v portRangeValue) Set(s string) error {
	var lo, hi int
	if _, err := fmt.Sscanf(s, "%d-%d", &lo, &hi); err != nil || lo > hi {
		return errors.New("want MIN-MAX")
	}
	*v.min, *v.max = lo, hi
	return nil
}

// addrsValue is a flag of comma-separated IP addresses.
type addrsValue struct{ addrs *[]netip.Addr }

func newAddrsValue(addrs *[]netip.Addr, def ...string) addrsValue {
	*addrs = nil
	for _, d := range def {
		*addrs = append(*addrs, netip.MustParseAddr(d))
	}
	return addrsValue{addrs}
}

func (v addrsValue) Type() string { return "strings" }
func (v addrsValue) String() string {
	if v.addrs == nil {
		return ""
	}
	s := make([]string, len(*v.addrs))
	for i, a := range *v.addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}
func (v addrsValue) Set(s string) error {
	var out []netip.Addr
	for f := range strings.SplitSeq(s, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("%q is not an IP address", f)
		}
		out = append(out, a)
	}
	*v.addrs = out
	return nil
}
