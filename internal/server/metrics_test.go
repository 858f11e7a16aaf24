//go:build integration

package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"skiff.dev/skiff/internal/agent"
	"skiff.dev/skiff/internal/controllermanager"
	"skiff.dev/skiff/internal/metricstest"
	"skiff.dev/skiff/internal/server/api"
)

// TestMetrics reads the server's one /metrics, the API server's, with the
// admin kubeconfig: the API server's request, watch and storage metrics,
// and, the server being one process, the controllers' work queues and the
// scheduler's. Without credentials it is refused.
func TestMetrics(t *testing.T) {
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
		DNS:               DNSConfig{Disable: true},
	}
	client, stop := run(t, cfg)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	// A pod for the scheduler to place on the simulated node.
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "measured", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "skiff/app:v1"}}},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	admin, err := clientcmd.BuildConfigFromFlags("", KubeconfigPath(cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	httpClient, err := rest.HTTPClientFor(admin)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		// the API server's requests and watches
		"apiserver_request_total", "apiserver_request_duration_seconds",
		"apiserver_longrunning_requests", "apiserver_watch_events_total",
		// its storage
		"etcd_request_duration_seconds", "etcd_requests_total", "apiserver_storage_objects",
		// the controllers' work queues
		"workqueue_adds_total", "workqueue_depth", "workqueue_queue_duration_seconds", "workqueue_work_duration_seconds",
		// the scheduler
		"scheduler_schedule_attempts_total", "scheduler_scheduling_attempt_duration_seconds", "scheduler_pending_pods",
	}
	var got metricstest.Families
	poll(t, "families on /metrics", func() error {
		got = metricstest.Get(t, httpClient, admin.Host+"/metrics")
		if missing := got.Missing(want...); len(missing) > 0 {
			return fmt.Errorf("missing %v", missing)
		}
		if n := got.Value("scheduler_schedule_attempts_total", map[string]string{"result": "scheduled"}); n < 1 {
			return fmt.Errorf("scheduler_schedule_attempts_total{result=scheduled} = %v, want the pod's", n)
		}
		return nil
	})
	// Work queues are named as kube-controller-manager names them.
	if got.Sample("workqueue_adds_total", map[string]string{"name": "replicaset"}) == nil {
		t.Errorf("no workqueue_adds_total{name=replicaset}")
	}
	if got.Sample("apiserver_request_total", map[string]string{"verb": "POST", "resource": "pods", "code": "201"}) == nil {
		t.Errorf("no apiserver_request_total{verb=POST,resource=pods,code=201} for the pod created")
	}

	// Without credentials: refused.
	anon, err := rest.HTTPClientFor(rest.AnonymousClientConfig(admin))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := anon.Get(admin.Host + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous GET /metrics: %d, want 401 or 403", resp.StatusCode)
	}
}
