//go:build integration

package customapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	cmapi "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	custommetrics "k8s.io/metrics/pkg/client/custom_metrics"
	externalmetrics "k8s.io/metrics/pkg/client/external_metrics"

	"skiff.dev/skiff/internal/server/api"
	"skiff.dev/skiff/internal/testserver"
)

// fakePod serves Prometheus text on loopback: a counter
// http_requests_total that grows at rps per second (code 200) and 1 per
// second (code 500), and a gauge in_flight.
type fakePod struct {
	start   time.Time
	rps     float64
	port    int
	scrapes atomic.Int64
}

func startFakePod(t *testing.T, rps float64) *fakePod {
	t.Helper()
	p := &fakePod{start: time.Now(), rps: rps}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.scrapes.Add(1)
		if r.URL.Path != "/stats" {
			http.NotFound(w, r)
			return
		}
		now := time.Now()
		elapsed := time.UnixMilli(now.UnixMilli()).Sub(p.start).Seconds()
		fmt.Fprintf(w, "# TYPE http_requests_total counter\n")
		fmt.Fprintf(w, "http_requests_total{code=\"200\"} %g %d\n", p.rps*elapsed, now.UnixMilli())
		fmt.Fprintf(w, "http_requests_total{code=\"500\"} %g %d\n", elapsed, now.UnixMilli())
		fmt.Fprintf(w, "# TYPE in_flight gauge\nin_flight 3\n")
	}))
	t.Cleanup(srv.Close)
	p.port = srv.Listener.Addr().(*net.TCPAddr).Port
	return p
}

func createPod(t *testing.T, client kubernetes.Interface, ns, name string, labels, annotations map[string]string) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: annotations},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "model-server"}}},
	}
	pod, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase, pod.Status.PodIP = corev1.PodRunning, "127.0.0.1"
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func scraped(port int) map[string]string {
	return map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(port), "prometheus.io/path": "/stats"}
}

func near(got, want float64) bool { return math.Abs(got-want) <= 0.05*want }

func TestCustomMetricsAPI(t *testing.T) {
	ts := testserver.Start(t, func(c *api.Config) { c.Metrics.Resolution = 200 * time.Millisecond })
	ctx := context.Background()
	if _, err := ts.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web1, web2, db, unasked := startFakePod(t, 10), startFakePod(t, 30), startFakePod(t, 100), startFakePod(t, 1)
	createPod(t, ts.Client, "prod", "web-1", map[string]string{"app": "web"}, scraped(web1.port))
	createPod(t, ts.Client, "prod", "web-2", map[string]string{"app": "web"}, scraped(web2.port))
	createPod(t, ts.Client, "prod", "db-0", map[string]string{"app": "db"}, scraped(db.port))
	createPod(t, ts.Client, "prod", "quiet", map[string]string{"app": "web"}, map[string]string{"prometheus.io/port": strconv.Itoa(unasked.port)})
	replicas := int32(2)
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "prod"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "model-server"}}},
			},
		},
	}
	if _, err := ts.Client.AppsV1().Deployments("prod").Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The client as the HPA controller builds it: versions from discovery.
	disco := memory.NewMemCacheClient(ts.Client.Discovery())
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(disco)
	cm := custommetrics.NewForConfig(ts.Config, mapper, custommetrics.NewAvailableAPIsGetter(ts.Client.Discovery()))
	prod := cm.NamespacedMetrics("prod")
	pod := schema.GroupKind{Kind: "Pod"}

	testserver.Poll(t, 20*time.Second, "http_requests_per_second of the web pods", func() error {
		list, err := prod.GetForObjects(pod, labels.SelectorFromSet(labels.Set{"app": "web"}), "http_requests_per_second", labels.Everything())
		if err != nil {
			return err
		}
		got := map[string]float64{}
		for _, m := range list.Items {
			got[m.DescribedObject.Name] = m.Value.AsApproximateFloat64()
		}
		// 200s and 500s together: 10+1 and 30+1.
		if len(got) != 2 || !near(got["web-1"], 11) || !near(got["web-2"], 31) {
			return fmt.Errorf("got %v, want web-1 11 and web-2 31", got)
		}
		return nil
	})
	only200 := labels.SelectorFromSet(labels.Set{"code": "200"})
	// db-0 was created after the web pods: its rate needs two scrapes of
	// its own.
	var v *cmapi.MetricValue
	testserver.Poll(t, 20*time.Second, "http_requests_per_second of db-0", func() error {
		var err error
		v, err = prod.GetForObject(pod, "db-0", "http_requests_per_second", only200)
		return err
	})
	if !near(v.Value.AsApproximateFloat64(), 100) || v.DescribedObject.Kind != "Pod" || v.Metric.Selector == nil || v.WindowSeconds == nil {
		t.Errorf("db-0 http_requests_per_second{code=200} = %+v, want 100/s", v)
	}
	if v, err := prod.GetForObject(pod, "web-1", "in_flight", labels.Everything()); err != nil || v.Value.Value() != 3 {
		t.Errorf("web-1 in_flight = %v, %v; want 3", v, err)
	}
	dv, err := prod.GetForObject(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "web", "http_requests_per_second", only200)
	if err != nil {
		t.Fatal(err)
	}
	if !near(dv.Value.AsApproximateFloat64(), 40) || dv.DescribedObject.Kind != "Deployment" {
		t.Errorf("deployment web http_requests_per_second{code=200} = %+v, want 40/s (the sum of its pods)", dv)
	}
	if _, err := prod.GetForObject(pod, "web-1", "no_such_metric", labels.Everything()); !apierrors.IsNotFound(err) {
		t.Errorf("a metric the pod does not have: %v, want NotFound", err)
	}
	if _, err := prod.GetForObject(pod, "quiet", "http_requests_per_second", labels.Everything()); !apierrors.IsNotFound(err) {
		t.Errorf("a pod that did not ask to be scraped: %v, want NotFound", err)
	}
	if n := unasked.scrapes.Load(); n != 0 {
		t.Errorf("the pod that did not ask was scraped %d times", n)
	}

	raw, err := ts.Client.Discovery().RESTClient().Get().AbsPath("/apis/custom.metrics.k8s.io/v1beta2").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var resources metav1.APIResourceList
	if err := json.Unmarshal(raw, &resources); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(resources.APIResources, func(r metav1.APIResource) bool { return r.Name == "pods/http_requests_per_second" }) {
		t.Errorf("discovery of custom.metrics.k8s.io/v1beta2 lists no pods/http_requests_per_second: %s", raw)
	}
	_, err = ts.Client.Discovery().RESTClient().Get().AbsPath("/apis/custom.metrics.k8s.io/v1beta2/namespaces/prod/pods/*/rps").
		Param("labelSelector", "app in (").DoRaw(ctx)
	if !apierrors.IsBadRequest(err) {
		t.Errorf("a bad labelSelector: %v, want BadRequest", err)
	}

	// External metrics, through the client the HPA controller uses: the
	// namespace's series that the selector matches, summed.
	em, err := externalmetrics.NewForConfig(ts.Config)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := em.NamespacedMetrics("prod").List("http_requests_per_second", only200)
	if err != nil {
		t.Fatal(err)
	}
	if len(ext.Items) != 1 || !near(ext.Items[0].Value.AsApproximateFloat64(), 140) || ext.Items[0].MetricLabels["code"] != "200" {
		t.Errorf("external http_requests_per_second{code=200} in prod = %+v, want one item of 140/s (10+30+100)", ext.Items)
	}
	if _, err := em.NamespacedMetrics("prod").List("no_such_metric", labels.Everything()); !apierrors.IsNotFound(err) {
		t.Errorf("an external metric nobody exports: %v, want NotFound", err)
	}
	groups, err := ts.Client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(groups.Groups, func(g metav1.APIGroup) bool { return g.Name == "external.metrics.k8s.io" }) {
		t.Errorf("discovery lists no external.metrics.k8s.io")
	}
}
