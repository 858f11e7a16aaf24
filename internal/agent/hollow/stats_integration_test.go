//go:build integration

package hollow_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"skiff.dev/skiff/internal/agent/hollow"
	"skiff.dev/skiff/internal/agent/kubeletserver"
	"skiff.dev/skiff/internal/pki"
	"skiff.dev/skiff/internal/testserver"
)

// kubeletClient is an HTTPS client trusting ca for the kubelet's serving
// certificate, with a client certificate for user signed by ca ("": no
// certificate).
func kubeletClient(t *testing.T, ca *pki.CA, user string) *http.Client {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	cfg := &tls.Config{RootCAs: roots}
	if user != "" {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := ca.Sign(key.Public(), pki.Leaf{CommonName: user})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
}

func get(client *http.Client, url string) (int, []byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// sample is one counter or gauge sample of a scrape.
type sample struct {
	value float64
	at    time.Time
}

// scrapeSample scrapes url and returns the sample of family name whose
// labels include want.
func scrapeSample(client *http.Client, url, name string, want map[string]string) (sample, error) {
	code, body, err := get(client, url)
	if err != nil {
		return sample{}, err
	}
	if code != http.StatusOK {
		return sample{}, fmt.Errorf("GET %s: %d %s", url, code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return sample{}, fmt.Errorf("parse: %w", err)
	}
	mf := mfs[name]
	if mf == nil {
		return sample{}, fmt.Errorf("no %s in %s", name, body)
	}
next:
	for _, m := range mf.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		v := m.GetGauge().GetValue()
		if mf.GetType() == dto.MetricType_COUNTER {
			v = m.GetCounter().GetValue()
		}
		return sample{value: v, at: time.UnixMilli(m.GetTimestampMs())}, nil
	}
	return sample{}, fmt.Errorf("no %s with %v", name, want)
}

// rate scrapes a counter twice, at least window apart, and returns its
// rate per second.
func rate(t *testing.T, client *http.Client, url, name string, labels map[string]string, window time.Duration) float64 {
	t.Helper()
	first, err := scrapeSample(client, url, name, labels)
	if err != nil {
		t.Fatal(err)
	}
	var second sample
	poll(t, 10*time.Second, "a second scrape "+window.String()+" later", func() error {
		s, err := scrapeSample(client, url, name, labels)
		if err != nil {
			return err
		}
		if s.at.Sub(first.at) < window {
			return fmt.Errorf("only %s later", s.at.Sub(first.at))
		}
		second = s
		return nil
	})
	return (second.value - first.value) / second.at.Sub(first.at).Seconds()
}

func TestHollowNodeStats(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	cs := s.Client
	ca, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, cs, hollow.Options{Count: 2, ClientCA: caPEM, ServingCertificate: func(hosts []string) (tls.Certificate, error) {
		dns, ips := pki.Hosts(hosts)
		return ca.TLSCertificate(pki.Leaf{CommonName: "hollow", DNSNames: dns, IPs: ips, ServerOnly: true})
	}})
	select {
	case <-c.Registered():
	case <-time.After(30 * time.Second):
		t.Fatal("nodes did not register")
	}
	nodeName := c.Names()[1]

	pod := boundPod("burner", nodeName, corev1.RestartPolicyAlways)
	pod.Annotations = map[string]string{hollow.CPUAnnotation: "250m", hollow.MemoryAnnotation: "64Mi"}
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "sidecar", Image: "registry.example/side:v1"})
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	idle := boundPod("idle", nodeName, corev1.RestartPolicyAlways)
	if _, err := cs.CoreV1().Pods("default").Create(ctx, idle, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "pods running", func() error {
		for _, name := range []string{"burner", "idle"} {
			p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("%s is %s", name, p.Status.Phase)
			}
		}
		return nil
	})

	// The node is reached as the server reaches it: InternalIP and the
	// kubelet endpoint port of its status.
	node, err := cs.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ip string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			ip = a.Address
		}
	}
	base := "https://" + net.JoinHostPort(ip, strconv.Itoa(int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)))
	client := kubeletClient(t, ca, kubeletserver.APIServerUser)
	metrics := base + "/metrics/resource"

	for _, path := range []string{"/metrics/resource", "/stats/summary"} {
		if code, _, err := get(kubeletClient(t, ca, ""), base+path); err != nil || code != http.StatusUnauthorized {
			t.Errorf("%s without a client certificate: %d %v, want 401", path, code, err)
		}
		if code, body, err := get(kubeletClient(t, ca, "system:node:other"), base+path); err != nil || code != http.StatusForbidden {
			t.Errorf("%s as another node: %d %s %v, want 403", path, code, body, err)
		}
	}

	burner := map[string]string{"pod": "burner", "namespace": "default"}
	if got := rate(t, client, metrics, "pod_cpu_usage_seconds_total", burner, 500*time.Millisecond); math.Abs(got-0.25) > 0.01 {
		t.Errorf("burner CPU rate %.4f cores, want 0.25", got)
	}
	app := map[string]string{"container": "app", "pod": "burner", "namespace": "default"}
	if got := rate(t, client, metrics, "container_cpu_usage_seconds_total", app, 500*time.Millisecond); math.Abs(got-0.125) > 0.01 {
		t.Errorf("burner/app CPU rate %.4f cores, want half the pod's, 0.125", got)
	}
	if m, err := scrapeSample(client, metrics, "container_memory_working_set_bytes", app); err != nil || m.value != 32<<20 {
		t.Errorf("burner/app memory %v (%v), want 32Mi", m.value, err)
	}
	if m, err := scrapeSample(client, metrics, "pod_memory_working_set_bytes", map[string]string{"pod": "idle"}); err != nil || m.value != 8<<20 {
		t.Errorf("idle pod memory %v (%v), want the default 8Mi", m.value, err)
	}

	// The annotation changes while the pod runs: so does the rate.
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"1500m"}}}`, hollow.CPUAnnotation)
	if _, err := cs.CoreV1().Pods("default").Patch(ctx, "burner", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "the summary shows the new rate", func() error {
		code, body, err := get(client, base+"/stats/summary")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("%d %s %v", code, body, err)
		}
		var sum statsapi.Summary
		if err := json.Unmarshal(body, &sum); err != nil {
			return err
		}
		for _, p := range sum.Pods {
			if p.PodRef.Name == "burner" && p.CPU != nil && p.CPU.UsageNanoCores != nil {
				if *p.CPU.UsageNanoCores != 1_500_000_000 {
					return fmt.Errorf("burner at %d nanocores", *p.CPU.UsageNanoCores)
				}
				return nil
			}
		}
		return fmt.Errorf("no burner in %s", body)
	})
	if got := rate(t, client, metrics, "pod_cpu_usage_seconds_total", burner, 500*time.Millisecond); math.Abs(got-1.5) > 0.03 {
		t.Errorf("burner CPU rate after the change %.4f cores, want 1.5", got)
	}
	if got := rate(t, client, metrics, "node_cpu_usage_seconds_total", nil, 500*time.Millisecond); math.Abs(got-1.501) > 0.03 {
		t.Errorf("node CPU rate %.4f cores, want its pods' 1.501", got)
	}
}
