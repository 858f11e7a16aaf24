// Package testserver starts a real skiff API server, on embedded etcd, inside
// a test process, for integration tests of the components that talk to it.
// Those tests are the integration tier: their files carry the build tag
// `integration` (make integration builds with it; make unit does not), and
// Start skips them under -short besides.
package testserver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	saadmission "skiff.dev/skiff/internal/apiserver/admission/serviceaccount"
	"skiff.dev/skiff/internal/server/api"
)

// Server is a running API server.
type Server struct {
	// Config reaches the server as the admin user.
	Config *rest.Config
	// Client is a clientset built from Config.
	Client kubernetes.Interface
	// DataDir is the server's data directory.
	DataDir string
	// EndpointAddress and Port are where the kubernetes Service's endpoints
	// point (api.Server's fields of those names).
	EndpointAddress netip.Addr
	Port            int
}

// Start runs a fresh API server for the test (no controllers, no node: tests
// run the components they test themselves) and stops it when the test ends.
// mutate, when not nil, adjusts the configuration before the start. Under
// -short it skips the test: a real API server is the integration tier.
func Start(t testing.TB, mutate func(*api.Config)) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (real API server): skipped under -short; make integration runs it")
	}
	// The server is handed the listener itself, so the port it was given
	// stays its own.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	cfg := api.Config{
		DataDir:     t.TempDir(),
		Listener:    l,
		ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16"),
		NodePortMin: 30000, NodePortMax: 32767,
		UnsafeNoFsync: true,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		// No serviceaccount controller runs to create the default
		// ServiceAccount the admission requires of pods (as in
		// Kubernetes' own integration tests); a test of it enables it.
		DisableAdmissionPlugins: []string{saadmission.PluginName},
	}
	if testing.Verbose() {
		cfg.Logger = slog.Default()
	}
	if mutate != nil {
		mutate(&cfg)
	}
	// A start takes seconds; the bound is generous for a loaded machine
	// running many test binaries under -race at once.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := api.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("skiff API server: %v", err)
	}
	t.Cleanup(func() {
		stopped := make(chan error, 1)
		go func() { stopped <- srv.Shutdown() }()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("skiff API server stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("skiff API server did not stop")
		}
		_ = l.Close() // in case the server stopped before serving it
	})
	restCfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	restCfg.QPS, restCfg.Burst = -1, 0
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(fmt.Errorf("clientset: %w", err))
	}
	return &Server{Config: restCfg, Client: client, DataDir: cfg.DataDir, EndpointAddress: srv.EndpointAddress, Port: srv.Port}
}

// Poll calls check every 50 ms until it returns nil, and fails the test
// with check's last error, naming what was awaited, once timeout passed.
func Poll(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true,
		func(context.Context) (bool, error) {
			last = check()
			return last == nil, nil
		})
	if err != nil {
		t.Fatalf("%s: not after %s: %v", what, timeout, last)
	}
}
