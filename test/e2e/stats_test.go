package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// TestNodeStats: the server's own node (process runtime, and containerd
// where installed) and a hollow node serve /stats/summary and
// /metrics/resource at InternalIP:kubeletEndpoint.Port to the API
// server's kubelet client certificate; a busy container shows CPU, a
// hollow pod what its annotation says.
func TestNodeStats(t *testing.T) {
	for _, rt := range []string{"process", "cri"} {
		t.Run(rt, func(t *testing.T) {
			n := startNodeSuite(t, rt, "--hollow-nodes", "1")
			ctx := context.Background()
			c := n.s.client()
			busy := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "busy"},
				Spec: corev1.PodSpec{NodeName: n.node, Containers: []corev1.Container{
					n.shellContainer("spin", "while :; do :; done"),
				}},
			}
			n.createPod("default", busy)
			sim := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "sim", Annotations: map[string]string{"skiff.dev/simulate-cpu": "300m", "skiff.dev/simulate-memory": "40Mi"}},
				Spec:       corev1.PodSpec{NodeName: "hollow-0", Containers: []corev1.Container{{Name: "app", Image: "localhost/skiff/model-server:v2"}}},
			}
			n.createPod("default", sim)
			for _, name := range []string{"busy", "sim"} {
				n.waitPod("default", name, 90*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
			}

			pair, err := tls.LoadX509KeyPair(filepath.Join(n.s.dataDir, "tls", "kubelet-client.crt"), filepath.Join(n.s.dataDir, "tls", "kubelet-client.key"))
			if err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
				Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true, //nolint:gosec // kubelets serve self-signed certificates
			}}}
			base := func(node string) string {
				obj, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range obj.Status.Addresses {
					if a.Type == corev1.NodeInternalIP {
						return "https://" + net.JoinHostPort(a.Address, strconv.Itoa(int(obj.Status.DaemonEndpoints.KubeletEndpoint.Port)))
					}
				}
				t.Fatalf("node %s has no InternalIP", node)
				return ""
			}

			// The real node: the busy container's CPU time grows.
			nodeURL := base(n.node)
			spin := map[string]string{"container": "spin", "pod": "busy", "namespace": "default"}
			var first, last metricSample
			eventually(t, 60*time.Second, "the busy container's CPU time grows", func() bool {
				s, err := scrape(client, nodeURL+"/metrics/resource", "container_cpu_usage_seconds_total", spin)
				if err != nil {
					t.Log(err)
					return false
				}
				if first.at.IsZero() {
					first = s
					return false
				}
				last = s
				return last.at.Sub(first.at) >= time.Second && last.value > first.value
			})
			t.Logf("busy container: %.2f cores", (last.value-first.value)/last.at.Sub(first.at).Seconds())
			if m, err := scrape(client, nodeURL+"/metrics/resource", "container_memory_working_set_bytes", spin); err != nil || m.value <= 0 {
				t.Errorf("busy container memory %v (%v), want above 0", m.value, err)
			}
			if m, err := scrape(client, nodeURL+"/metrics/resource", "node_memory_working_set_bytes", nil); err != nil || m.value <= 0 {
				t.Errorf("node memory %v (%v), want above 0", m.value, err)
			}
			eventually(t, 30*time.Second, "the summary has the busy pod with a CPU rate", func() bool {
				sum, err := summary(client, nodeURL)
				if err != nil {
					t.Log(err)
					return false
				}
				for _, p := range sum.Pods {
					if p.PodRef.Name == "busy" && p.CPU != nil && p.CPU.UsageNanoCores != nil && *p.CPU.UsageNanoCores > 0 {
						return sum.Node.NodeName == n.node && sum.Node.CPU != nil
					}
				}
				return false
			})

			// The hollow node: the annotated rate.
			hollow := base("hollow-0")
			podLabels := map[string]string{"pod": "sim", "namespace": "default"}
			a, err := scrape(client, hollow+"/metrics/resource", "pod_cpu_usage_seconds_total", podLabels)
			if err != nil {
				t.Fatal(err)
			}
			var b metricSample
			eventually(t, 10*time.Second, "a second scrape of the hollow node", func() bool {
				b, err = scrape(client, hollow+"/metrics/resource", "pod_cpu_usage_seconds_total", podLabels)
				return err == nil && b.at.Sub(a.at) >= 500*time.Millisecond
			})
			if r := (b.value - a.value) / b.at.Sub(a.at).Seconds(); r < 0.29 || r > 0.31 {
				t.Errorf("hollow pod CPU %.3f cores, want the annotated 0.3", r)
			}

			// Without the API server's certificate: refused.
			resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}).Get(nodeURL + "/stats/summary") //nolint:gosec // as above
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("anonymous /stats/summary: %d, want 401", resp.StatusCode)
			}
		})
	}
}

type metricSample struct {
	value float64
	at    time.Time
}

func fetchBody(client *http.Client, url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return body, nil
}

// scrape returns the sample of family name whose labels include want.
func scrape(client *http.Client, url, name string, want map[string]string) (metricSample, error) {
	body, err := fetchBody(client, url)
	if err != nil {
		return metricSample{}, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return metricSample{}, fmt.Errorf("parse %s: %w", url, err)
	}
	mf := mfs[name]
next:
	for _, m := range mf.GetMetric() {
		for _, l := range m.Label {
			if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
				continue next
			}
		}
		v := m.GetGauge().GetValue()
		if mf.GetType() == dto.MetricType_COUNTER {
			v = m.GetCounter().GetValue()
		}
		return metricSample{value: v, at: time.UnixMilli(m.GetTimestampMs())}, nil
	}
	return metricSample{}, fmt.Errorf("no %s%v in %s", name, want, body)
}

func summary(client *http.Client, base string) (*statsapi.Summary, error) {
	body, err := fetchBody(client, base+"/stats/summary")
	if err != nil {
		return nil, err
	}
	var s statsapi.Summary
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
