//go:build integration

package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"skiff.dev/skiff/internal/agent"
	"skiff.dev/skiff/internal/agent/hollow"
	"skiff.dev/skiff/internal/controllermanager"
	"skiff.dev/skiff/internal/server/api"
)

// run starts Run with cfg and returns a client once the API is ready, and a
// stop that cancels Run and returns its error.
func run(t *testing.T, cfg Config) (kubernetes.Interface, func() error) {
	t.Helper()
	ready := make(chan struct{})
	cfg.Ready = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			return fmt.Errorf("Run did not return 60s after its context ended")
		}
	}
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("server not ready after 60s")
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", KubeconfigPath(cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	return client, stop
}

// poll waits until check returns nil, for at most 30 s (testserver.Poll,
// which this package cannot import).
func poll(t *testing.T, what string, check func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		last = check()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("%s: %v (%v)", what, err, last)
	}
}

// TestRun runs the whole server from one Config: the controllers, a
// simulated own node and hollow nodes come up, and on stop the controller
// manager releases its Leases before the API server goes.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server on embedded etcd")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := Config{
		Config: api.Config{
			DataDir: t.TempDir(), BindAddress: net.ParseIP("127.0.0.1"), Port: port,
			ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16"), NodePortMin: 30000, NodePortMax: 32767,
			UnsafeNoFsync: true,
			Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		},
		ControllerManager: controllermanager.Config{Identity: "test-server"},
		Node:              agent.Config{NodeName: "own", Runtime: agent.RuntimeFake},
		Hollow:            hollow.Options{Count: 2},
		// The DNS server on the default route's interface (Endpoints take
		// no loopback address), on a free port.
		DNS: DNSConfig{Port: 0},
	}
	if testing.Verbose() {
		cfg.Logger = slog.Default()
	}
	client, stop := run(t, cfg)
	ctx := context.Background()
	poll(t, "3 nodes with pod CIDRs", func() error {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		var names []string
		for _, n := range nodes.Items {
			if n.Spec.PodCIDR == "" {
				return fmt.Errorf("node %s has no pod CIDR yet", n.Name)
			}
			names = append(names, n.Name)
		}
		slices.Sort(names)
		if want := []string{"hollow-0", "hollow-1", "own"}; !slices.Equal(names, want) {
			return fmt.Errorf("nodes %v, want %v", names, want)
		}
		return nil
	})
	for _, lease := range []string{controllermanager.ControllerManagerLease, controllermanager.SchedulerLease} {
		poll(t, lease+" held", func() error {
			l, err := client.CoordinationV1().Leases("kube-system").Get(ctx, lease, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if h := l.Spec.HolderIdentity; h == nil || *h != "test-server" {
				return fmt.Errorf("holder %v", h)
			}
			return nil
		})
	}
	checkClusterDNS(t, client)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v, want nil once its context ended", err)
	}

	// The API server alone, on the same data: the Leases were released.
	cfg.NoControllers, cfg.DisableAgent, cfg.Hollow = true, true, hollow.Options{}
	client, stop = run(t, cfg)
	defer stop()
	for _, lease := range []string{controllermanager.ControllerManagerLease, controllermanager.SchedulerLease} {
		l, err := client.CoordinationV1().Leases("kube-system").Get(ctx, lease, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if h := l.Spec.HolderIdentity; h != nil && *h != "" {
			t.Errorf("lease %s still held by %q after the server stopped", lease, *h)
		}
	}
}

// checkClusterDNS: the kube-dns Service has the cluster DNS address, its
// Endpoints point at the server's DNS server, and that answers.
func checkClusterDNS(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	svc, err := client.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.43.0.10" {
		t.Errorf("kube-dns ClusterIP %s, want 10.43.0.10", svc.Spec.ClusterIP)
	}
	want, err := utilnet.ChooseHostInterface()
	if err != nil {
		t.Fatalf("no default route interface for the DNS server: %v", err)
	}
	var addr string
	poll(t, "kube-dns endpoints", func() error {
		eps, err := client.CoreV1().Endpoints("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(eps.Subsets) != 1 || len(eps.Subsets[0].Addresses) != 1 || len(eps.Subsets[0].Ports) != 2 {
			return fmt.Errorf("subsets %v", eps.Subsets)
		}
		ss := eps.Subsets[0]
		if ss.Addresses[0].IP != want.String() || ss.Ports[0].Port == 0 {
			return fmt.Errorf("subsets %v, want %s and the DNS port", eps.Subsets, want)
		}
		addr = net.JoinHostPort(ss.Addresses[0].IP, fmt.Sprint(ss.Ports[0].Port))
		return nil
	})
	for _, network := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: network, Timeout: time.Second}
		poll(t, "kubernetes.default over "+network, func() error {
			r, _, err := c.Exchange(new(dns.Msg).SetQuestion("kubernetes.default.svc.cluster.local.", dns.TypeA), addr)
			if err != nil {
				return err
			}
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.43.0.1" {
				return fmt.Errorf("answer %v", r.Answer)
			}
			return nil
		})
	}
}
