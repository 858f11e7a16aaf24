// Package nfttest is test support for the node components that program
// nftables (the service proxy, the NetworkPolicy enforcement): run
// commands, point knftables at a test's own network namespace, and measure
// change-to-kernel benchmarks the same way in every package.
package nfttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Sh runs the command args and returns its combined output; a failure
// fails t.
func Sh(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// NftIn makes knftables run nft in the network namespace ns (of
// /run/netns) for the rest of t: a wrapper first in PATH.
func NftIn(t testing.TB, ns string) {
	t.Helper()
	dir := t.TempDir()
	nft, err := exec.LookPath("nft")
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nexec nsenter --net=/run/netns/%s %s \"$@\"\n", ns, nft)
	if err := os.WriteFile(filepath.Join(dir, "nft"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
}

// Meter measures the changes of a change-to-kernel benchmark: the latency
// of each, and the CPU time, which unlike latency says little of how busy
// the machine is, of nft (the process's children) and of the test process.
type Meter struct {
	self0, kids0 syscall.Rusage
	lat          []time.Duration
}

// StartMeter starts counting CPU time.
func StartMeter() *Meter {
	m := &Meter{}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &m.self0)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &m.kids0)
	return m
}

// Add records the latency of one change.
func (m *Meter) Add(d time.Duration) { m.lat = append(m.lat, d) }

// Report stops counting CPU time and reports, on b, the median and 99th
// percentile latency (p50-ms, p99-ms) and the CPU time per change of nft
// (nft-cpu-ms/op) and of the test process (go-cpu-ms/op).
func (m *Meter) Report(b *testing.B) {
	var self1, kids1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids1)
	cpu := func(a, b syscall.Rusage) time.Duration {
		return time.Duration(b.Utime.Nano() + b.Stime.Nano() - a.Utime.Nano() - a.Stime.Nano())
	}
	lat := slices.Sorted(slices.Values(m.lat))
	b.ReportMetric(MS(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(MS(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(MS(cpu(m.kids0, kids1))/float64(b.N), "nft-cpu-ms/op")
	b.ReportMetric(MS(cpu(m.self0, self1))/float64(b.N), "go-cpu-ms/op")
}

// MS is d in milliseconds, as the benchmarks report times.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
