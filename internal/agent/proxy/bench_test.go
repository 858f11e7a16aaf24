//go:build integration

package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"

	"skiff.dev/skiff/internal/agent/nfttest"
	"skiff.dev/skiff/internal/testserver"
)

// benchService is Service i of the benchmark: a NodePort Service with ten
// endpoints spread over ten nodes (one of them this one).
func benchService(i int) (*corev1.Service, *discoveryv1.EndpointSlice) {
	name := fmt.Sprintf("svc-%04d", i)
	// In the API server's service range (10.43.0.0/16), above its own
	// addresses.
	s := testService(name, fmt.Sprintf("10.43.%d.%d", 10+i/250, i%250+1), 80, int32(30000+i), false)
	var eps []epSpec
	for j := 0; j < 10; j++ {
		eps = append(eps, epSpec{ip: fmt.Sprintf("10.244.%d.%d", j, i%250+2), node: fmt.Sprintf("node-%d", j), ready: true, serving: true})
	}
	sl := slice(name, eps...)
	sl.Name = name + "-abc"
	return s, sl
}

func testService(name, ip string, port, nodePort int32, affinity bool) *corev1.Service {
	return svc(name, func(s *corev1.Service) {
		s.Spec.ClusterIP = ip
		s.Spec.Ports[0].Port = port
		if nodePort != 0 {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = nodePort
		}
		if affinity {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
		}
	})
}

// BenchmarkEndpointChangeToKernel runs a proxy (informers on a real API
// server from internal/testserver, nft in a network namespace of its own)
// with 1,000 Services and 10,000 endpoints created through the API, and
// measures the time from an EndpointSlice update to
// the Service's rules being in the kernel and the time of a full resync
// (the proxy's memory is measured by make bench on a real agent).
func BenchmarkEndpointChangeToKernel(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		b.Skip("needs nft")
	}
	ns := fmt.Sprintf("skpx-bench%d", time.Now().UnixNano()%1e6)
	nfttest.Sh(b, "ip", "netns", "add", ns)
	b.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	nfttest.NftIn(b, ns)
	ctx := context.Background()
	client := testserver.Start(b, nil).Client
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	const services = 1000
	var slices []*discoveryv1.EndpointSlice
	for i := 0; i < services; i++ {
		s, sl := benchService(i)
		if _, err := client.CoreV1().Services("ns").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		created, err := client.DiscoveryV1().EndpointSlices("ns").Create(ctx, sl, metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		slices = append(slices, created)
	}
	table := TableName("bench", ns)
	nft, err := knftables.New(knftables.IPv4Family, table)
	if err != nil {
		b.Fatal(err)
	}
	noSysctl := func(string, string) error { return nil }
	p, err := New(Config{
		Client: client, NodeName: "node-0", NodeIPs: []netip.Addr{netip.MustParseAddr("192.168.77.1")},
		PodCIDR: netip.MustParsePrefix("10.244.0.0/24"), TableName: table, NFT: nft,
		SetSysctl: noSysctl, ReadSysctl: func(string) (string, error) { return "1", nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	written := make(chan []serviceKey, 16)
	p.afterSync = func(keys []serviceKey) { written <- keys }
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- p.Run(rctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	select {
	case <-p.Synced():
	case err := <-done:
		b.Fatal(err)
	}
	firstSync := time.Since(start)

	// A periodic full resync (in place) of all 1,000 Services.
	plans, err := p.allPlans()
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := p.app.sync(ctx, plans); err != nil {
		b.Fatal(err)
	}
	resync := time.Since(t0)

	meter := nfttest.StartMeter()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sl := slices[i%services].DeepCopy()
		j := i % 10
		sl.Endpoints[j].Conditions.Ready = ptr.To(!ptr.Deref(sl.Endpoints[j].Conditions.Ready, true))
		key := serviceKey{Namespace: "ns", Name: sl.Labels[discoveryv1.LabelServiceName]}
		t0 := time.Now()
		updated, err := client.DiscoveryV1().EndpointSlices("ns").Update(ctx, sl, metav1.UpdateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		slices[i%services] = updated
	wait:
		for {
			select {
			case keys := <-written:
				for _, k := range keys {
					if k == key {
						break wait
					}
				}
			case <-time.After(10 * time.Second):
				b.Fatal("change not written")
			}
		}
		meter.Add(time.Since(t0))
	}
	b.StopTimer()
	meter.Report(b)
	b.ReportMetric(nfttest.MS(resync), "resync-ms")
	b.ReportMetric(nfttest.MS(firstSync), "start-sync-ms")
}
