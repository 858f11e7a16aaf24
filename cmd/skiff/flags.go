package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// The flag values below parse at flag time, so that the command's config is
// complete once the flags are. Their Type is "string", as the help shows.

// ipValue is a net.IP flag.
type ipValue struct{ ip *net.IP }

func newIPValue(ip *net.IP, def string) ipValue {
	*ip = net.ParseIP(def)
	return ipValue{ip}
}

func (v ipValue) String() string { return v.ip.String() }
func (v ipValue) Type() string   { return "string" }
func (v ipValue) Set(s string) error {
	ip := net.ParseIP(s)
	if ip == nil {
		return fmt.Errorf("%q is not an IP address", s)
	}
	*v.ip = ip
	return nil
}

// prefixValue is a CIDR flag.
type prefixValue struct{ p *netip.Prefix }

func newPrefixValue(p *netip.Prefix, def string) prefixValue {
	*p = netip.MustParsePrefix(def)
	return prefixValue{p}
}

func (v prefixValue) String() string { return v.p.String() }
func (v prefixValue) Type() string   { return "string" }
func (v prefixValue) Set(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return err
	}
	*v.p = p
	return nil
}

// portRangeValue is a MIN-MAX flag.
type portRangeValue struct{ min, max *int }

func newPortRangeValue(min, max *int, defMin, defMax int) portRangeValue {
	*min, *max = defMin, defMax
	return portRangeValue{min, max}
}

func (v portRangeValue) String() string { return fmt.Sprintf("%d-%d", *v.min, *v.max) }
func (v portRangeValue) Type() string   { return "string" }
func (v portRangeValue) Set(s string) error {
	var lo, hi int
	if _, err := fmt.Sscanf(s, "%d-%d", &lo, &hi); err != nil || lo > hi {
		return errors.New("want MIN-MAX")
	}
	*v.min, *v.max = lo, hi
	return nil
}
