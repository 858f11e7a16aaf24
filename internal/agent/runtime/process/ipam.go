package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
)

// ipam hands out the addresses of a pod CIDR, one per sandbox. The first
// address belongs to the bridge. Allocations are written to a file so an
// agent that restarts does not reuse an address a live pod still holds.
type ipam struct {
	path   string
	prefix netip.Prefix

	mu    sync.Mutex
	state ipamState
}

type ipamState struct {
	Prefix string            `json:"prefix"`
	Last   string            `json:"last,omitempty"`
	Used   map[string]string `json:"used"` // address -> sandbox ID
}

func newIPAM(path string, prefix netip.Prefix) (*ipam, error) {
	a := &ipam{path: path, prefix: prefix.Masked()}
	a.state = ipamState{Prefix: a.prefix.String(), Used: map[string]string{}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read address allocations: %w", err)
	default:
		var st ipamState
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, fmt.Errorf("read address allocations %s: %w", path, err)
		}
		if st.Prefix == a.state.Prefix && st.Used != nil {
			a.state = st
		}
	}
	return a, nil
}

// gateway is the bridge's address: the first address of the CIDR.
func (a *ipam) gateway() netip.Addr { return a.prefix.Addr().Next() }

// allocate gives id the next free address after the last one handed out.
func (a *ipam) allocate(id string) (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ip, owner := range a.state.Used {
		if owner == id {
			return netip.ParseAddr(ip)
		}
	}
	start := a.gateway()
	if last, err := netip.ParseAddr(a.state.Last); err == nil && a.prefix.Contains(last) {
		start = last
	}
	ip, found := start, false
	for i := 0; i < 1<<20; i++ {
		ip = ip.Next()
		if !ip.IsValid() || !a.prefix.Contains(ip) {
			ip = a.gateway().Next() // wrap around
		}
		if _, used := a.state.Used[ip.String()]; !used && a.usable(ip) {
			found = true
			break
		}
		if ip == start {
			break
		}
	}
	if !found {
		return netip.Addr{}, fmt.Errorf("no free address in %s", a.prefix)
	}
	a.state.Used[ip.String()] = id
	a.state.Last = ip.String()
	if err := a.save(); err != nil {
		delete(a.state.Used, ip.String())
		return netip.Addr{}, err
	}
	return ip, nil
}

// usable reports whether ip may be given to a pod: not the network, the
// gateway or (IPv4) the broadcast address.
func (a *ipam) usable(ip netip.Addr) bool {
	if !a.prefix.Contains(ip) || ip == a.prefix.Addr() || ip == a.gateway() {
		return false
	}
	if ip.Is4() {
		next := ip.Next()
		if !next.IsValid() || !a.prefix.Contains(next) {
			return false // broadcast
		}
	}
	return true
}

// release frees the addresses of id.
func (a *ipam) release(id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	changed := false
	for ip, owner := range a.state.Used {
		if owner == id {
			delete(a.state.Used, ip)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return a.save()
}

func (a *ipam) save() error {
	b, err := json.Marshal(a.state)
	if err != nil {
		return fmt.Errorf("encode address allocations: %w", err)
	}
	return writeFileAtomic(a.path, b)
}

// writeFileAtomic replaces path with data through a temporary file.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
