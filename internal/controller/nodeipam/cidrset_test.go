package nodeipam

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCIDRSet(t *testing.T) {
	tests := []struct {
		name    string
		cluster string
		bits    int
		occupy  []string
		want    []string // allocations in order, "" for exhaustion
	}{
		{name: "in order", cluster: "10.42.0.0/16", bits: 24, want: []string{"10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24"}},
		{name: "skips occupied", cluster: "10.42.0.0/16", bits: 24, occupy: []string{"10.42.0.0/24", "10.42.2.0/24"},
			want: []string{"10.42.1.0/24", "10.42.3.0/24"}},
		{name: "exhausted", cluster: "10.42.0.0/23", bits: 24, occupy: []string{"10.42.1.0/24"}, want: []string{"10.42.0.0/24", ""}},
		{name: "outside ranges are ignored", cluster: "10.42.0.0/23", bits: 24, occupy: []string{"10.99.0.0/24", "10.42.0.0/25"},
			want: []string{"10.42.0.0/24", "10.42.1.0/24", ""}},
		{name: "ipv6", cluster: "fd00:42::/48", bits: 64, want: []string{"fd00:42::/64", "fd00:42:0:1::/64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := newCIDRSet(netip.MustParsePrefix(tt.cluster), tt.bits)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range tt.occupy {
				s.occupy(netip.MustParsePrefix(o))
			}
			for _, want := range tt.want {
				got, err := s.allocate()
				if want == "" {
					if !errors.Is(err, errCIDRsExhausted) {
						t.Fatalf("got %v %v, want exhaustion", got, err)
					}
					continue
				}
				if err != nil || got.String() != want {
					t.Fatalf("got %v %v, want %s", got, err, want)
				}
			}
		})
	}
}

func TestCIDRSetReleaseAndReuse(t *testing.T) {
	s, err := newCIDRSet(netip.MustParsePrefix("10.42.0.0/23"), 24)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.allocate()
	if _, err := s.allocate(); err != nil {
		t.Fatal(err)
	}
	s.release(a)
	got, err := s.allocate()
	if err != nil || got != a {
		t.Fatalf("got %v %v, want the released %v", got, err, a)
	}
}

func TestCIDRSetBadMask(t *testing.T) {
	for _, bits := range []int{15, 33} {
		if _, err := newCIDRSet(netip.MustParsePrefix("10.42.0.0/16"), bits); err == nil {
			t.Errorf("/%d in a /16: no error", bits)
		}
	}
}
