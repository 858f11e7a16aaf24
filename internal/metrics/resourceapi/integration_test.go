//go:build integration

package resourceapi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"skiff.dev/skiff/internal/pki"
	"skiff.dev/skiff/internal/server/api"
	"skiff.dev/skiff/internal/testserver"
)

// fakeKubelet serves /metrics/resource on loopback to the API server's
// kubelet client certificate only: counters that grow at a fixed rate of
// CPU per node and per container, stamped with the time of the request.
type fakeKubelet struct {
	start      time.Time
	nodeCores  float64
	containers map[[3]string]float64 // {namespace, pod, container} -> cores
	port       int

	mu      sync.Mutex
	clients sets.Set[string]
}

func startFakeKubelet(t *testing.T, caFile string, nodeCores float64, containers map[[3]string]float64) *fakeKubelet {
	t.Helper()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate in", caFile)
	}
	k := &fakeKubelet{start: time.Now(), nodeCores: nodeCores, containers: containers, clients: sets.New[string]()}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(k.serve))
	ca, err := pki.LoadOrCreateCA(filepath.Dir(caFile))
	if err != nil {
		t.Fatal(err)
	}
	serving, err := ca.TLSCertificate(pki.Leaf{CommonName: "system:node:fake", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, ServerOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, Certificates: []tls.Certificate{serving}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	k.port = srv.Listener.Addr().(*net.TCPAddr).Port
	return k
}

func (k *fakeKubelet) serve(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	k.clients.Insert(r.TLS.PeerCertificates[0].Subject.CommonName)
	k.mu.Unlock()
	if r.URL.Path != "/metrics/resource" {
		http.NotFound(w, r)
		return
	}
	now := time.Now()
	ms, elapsed := now.UnixMilli(), time.UnixMilli(now.UnixMilli()).Sub(k.start).Seconds()
	fmt.Fprintf(w, "# TYPE node_cpu_usage_seconds_total counter\nnode_cpu_usage_seconds_total %g %d\n", k.nodeCores*elapsed, ms)
	fmt.Fprintf(w, "# TYPE node_memory_working_set_bytes gauge\nnode_memory_working_set_bytes %d %d\n", 1<<30, ms)
	fmt.Fprintln(w, "# TYPE container_cpu_usage_seconds_total counter")
	for c, cores := range k.containers {
		fmt.Fprintf(w, "container_cpu_usage_seconds_total{container=%q,namespace=%q,pod=%q} %g %d\n", c[2], c[0], c[1], cores*elapsed, ms)
	}
	fmt.Fprintln(w, "# TYPE container_memory_working_set_bytes gauge")
	for c := range k.containers {
		fmt.Fprintf(w, "container_memory_working_set_bytes{container=%q,namespace=%q,pod=%q} %d %d\n", c[2], c[0], c[1], 64<<20, ms)
	}
}

func (k *fakeKubelet) clientNames() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return sets.List(k.clients)
}

func createNode(t *testing.T, client kubernetes.Interface, name string, port int, labels map[string]string) {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	node, err := client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if _, err := client.CoreV1().Nodes().UpdateStatus(context.Background(), node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func createPod(t *testing.T, client kubernetes.Interface, ns, name, node string, labels map[string]string, containers ...string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: node},
	}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "model-server"})
	}
	if _, err := client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// near reports whether the quantity q (in milli-units) is within 5% of want.
func near(gotMilli int64, wantMilli int64) bool {
	return math.Abs(float64(gotMilli-wantMilli)) <= 0.05*float64(wantMilli)
}

func TestResourceMetricsAPI(t *testing.T) {
	ts := testserver.Start(t, func(c *api.Config) { c.Metrics.Resolution = 200 * time.Millisecond })
	ctx := context.Background()
	caFile := filepath.Join(ts.DataDir, "tls", "ca.crt")

	web := startFakeKubelet(t, caFile, 2, map[[3]string]float64{
		{"default", "web-1", "server"}:  0.25,
		{"default", "web-1", "sidecar"}: 0.05,
		{"default", "db-0", "db"}:       0.5,
		{"default", "gone", "c"}:        1, // no such pod in the API
	})
	gpu := startFakeKubelet(t, caFile, 1, map[[3]string]float64{{"prod", "train-0", "trainer"}: 0.75})
	createNode(t, ts.Client, "web-node", web.port, map[string]string{"pool": "web"})
	createNode(t, ts.Client, "gpu-node", gpu.port, map[string]string{"pool": "gpu"})
	// A node whose kubelet does not answer is left out, not an error.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	createNode(t, ts.Client, "dead-node", deadPort, nil)
	for _, ns := range []string{"prod"} {
		if _, err := ts.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	createPod(t, ts.Client, "default", "web-1", "web-node", map[string]string{"app": "web"}, "server", "sidecar")
	createPod(t, ts.Client, "default", "db-0", "web-node", map[string]string{"app": "db"}, "db")
	createPod(t, ts.Client, "prod", "train-0", "gpu-node", map[string]string{"app": "train"}, "trainer")

	mc, err := metricsclient.NewForConfig(ts.Config)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := ts.Client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(groups.Groups, func(g metav1.APIGroup) bool {
		return g.Name == "metrics.k8s.io" && g.PreferredVersion.Version == "v1beta1"
	}) {
		t.Errorf("discovery lists no metrics.k8s.io/v1beta1: %+v", groups.Groups)
	}

	nodes := mc.MetricsV1beta1().NodeMetricses()
	testserver.Poll(t, 20*time.Second, "node metrics of the two live nodes", func() error {
		list, err := nodes.List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		got := map[string]int64{}
		for _, m := range list.Items {
			got[m.Name] = m.Usage.Cpu().MilliValue()
		}
		if len(got) != 2 || !near(got["web-node"], 2000) || !near(got["gpu-node"], 1000) {
			return fmt.Errorf("node CPU in millicores %v, want web-node 2000 and gpu-node 1000", got)
		}
		return nil
	})
	list, err := nodes.List(ctx, metav1.ListOptions{LabelSelector: "pool=gpu"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "gpu-node" || list.Items[0].Usage.Memory().Value() != 1<<30 {
		t.Errorf("node metrics with pool=gpu: %+v", list.Items)
	}
	if m, err := nodes.Get(ctx, "web-node", metav1.GetOptions{}); err != nil {
		t.Error(err)
	} else if m.Window.Duration <= 0 || m.Labels["pool"] != "web" {
		t.Errorf("web-node metrics: window %v labels %v", m.Window.Duration, m.Labels)
	}
	if _, err := nodes.Get(ctx, "dead-node", metav1.GetOptions{}); err == nil || !isNotFound(err) {
		t.Errorf("metrics of a node that cannot be scraped: %v, want NotFound", err)
	}

	pods := func(ns string) []metricsv1beta1.PodMetrics {
		list, err := mc.MetricsV1beta1().PodMetricses(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return list.Items
	}
	testserver.Poll(t, 20*time.Second, "metrics of the three pods", func() error {
		if n := len(pods("")); n != 3 {
			return fmt.Errorf("%d pod metrics across namespaces, want 3", n)
		}
		return nil
	})
	web1, err := mc.MetricsV1beta1().PodMetricses("default").Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(web1.Containers) != 2 || web1.Containers[0].Name != "server" || web1.Containers[1].Name != "sidecar" ||
		!near(web1.Containers[0].Usage.Cpu().MilliValue(), 250) || !near(web1.Containers[1].Usage.Cpu().MilliValue(), 50) ||
		web1.Containers[0].Usage.Memory().Value() != 64<<20 {
		t.Errorf("web-1 metrics: %+v", web1.Containers)
	}
	if got := pods("prod"); len(got) != 1 || got[0].Name != "train-0" {
		t.Errorf("pod metrics in prod: %+v", got)
	}
	sel, err := mc.MetricsV1beta1().PodMetricses("default").List(ctx, metav1.ListOptions{LabelSelector: "app=db"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.Items) != 1 || sel.Items[0].Name != "db-0" {
		t.Errorf("pod metrics with app=db: %+v", sel.Items)
	}
	if _, err := mc.MetricsV1beta1().PodMetricses("default").Get(ctx, "gone", metav1.GetOptions{}); !isNotFound(err) {
		t.Errorf("metrics of a pod the API does not have: %v, want NotFound", err)
	}
	if got := web.clientNames(); !slices.Equal(got, []string{api.KubeletClientCommonName}) {
		t.Errorf("the kubelet saw clients %v, want only %s", got, api.KubeletClientCommonName)
	}
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
