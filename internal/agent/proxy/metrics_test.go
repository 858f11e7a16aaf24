package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/component-base/metrics/legacyregistry"
	"sigs.k8s.io/knftables"

	"skiff.dev/skiff/internal/metricstest"
)

// TestSyncMetrics runs the proxy over a fake nftables and checks that its
// first (full) sync and a partial one after a Service change show in the
// process's /metrics as kube-proxy's sync metrics.
func TestSyncMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := metricstest.Scrape(t, legacyregistry.Handler())
	client := fake.NewSimpleClientset()
	p, err := New(Config{
		Client: client, NodeName: testNode,
		PodCIDR: netip.MustParsePrefix("10.42.1.0/24"), TableName: "skiff-metrics-test",
		NFT:        knftables.NewFake(knftables.IPv4Family, "skiff-metrics-test"),
		ReadSysctl: func(string) (string, error) { return "1", nil },
		SetSysctl:  func(string, string) error { return nil },
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-p.Synced()
	if _, err := client.CoreV1().Services("ns").Create(ctx, svc("web", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got metricstest.Families
	delta := func(name string) float64 { return got.Value(name, nil) - before.Value(name, nil) }
	err = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		got = metricstest.Scrape(t, legacyregistry.Handler())
		return delta("kubeproxy_sync_partial_proxy_rules_duration_seconds") >= 1, nil
	})
	if err != nil {
		t.Fatalf("no partial sync counted after a Service was added: kubeproxy_sync_partial_proxy_rules_duration_seconds has %v new samples", delta("kubeproxy_sync_partial_proxy_rules_duration_seconds"))
	}
	if n := delta("kubeproxy_sync_full_proxy_rules_duration_seconds"); n < 1 {
		t.Errorf("kubeproxy_sync_full_proxy_rules_duration_seconds has %v new samples, want the first full sync", n)
	}
	if n := delta("kubeproxy_sync_proxy_rules_duration_seconds"); n < 2 {
		t.Errorf("kubeproxy_sync_proxy_rules_duration_seconds has %v new samples, want at least 2 (full and partial)", n)
	}
	last := got.Value("kubeproxy_sync_proxy_rules_last_timestamp_seconds", nil)
	if age := time.Since(time.Unix(int64(last), 0)); age < -time.Second || age > time.Minute {
		t.Errorf("kubeproxy_sync_proxy_rules_last_timestamp_seconds = %v, %v ago; want the last sync's time", last, age)
	}
}
