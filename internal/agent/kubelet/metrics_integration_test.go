//go:build integration

package kubelet

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-base/metrics/legacyregistry"

	"skiff.dev/skiff/internal/metricstest"
)

// TestKubeletMetrics runs a pod with a readiness probe that fails, then
// passes, and reads the kubelet's pod start, running and probe metrics
// from the process's /metrics; the pod's probe series go with the pod.
func TestKubeletMetrics(t *testing.T) {
	env := startKubelet(t, nil)
	before := metricstest.Scrape(t, legacyregistry.Handler())
	ready := make(chan struct{})
	env.rt.SetExec(func(id string, cmd []string) (string, int) {
		select {
		case <-ready:
			return "ok", 0
		default:
			return "not yet", 1
		}
	})
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}}, PeriodSeconds: 1}
	pod := env.createPod(t, simplePod("measured", corev1.Container{Name: "app", Image: "skiff/app:v1", ReadinessProbe: probe}))
	env.waitPhase(t, "measured", corev1.PodRunning)
	env.waitEvent(t, "measured", "Unhealthy: Readiness probe failed: not yet")
	close(ready)
	env.waitPod(t, "measured", "Ready", isReady)

	probeLabels := func(result string) map[string]string {
		return map[string]string{"probe_type": "Readiness", "result": result, "container": "app",
			"pod": "measured", "namespace": "default", "pod_uid": string(pod.UID)}
	}
	poll(t, 10*time.Second, "kubelet metrics", func() error {
		got := metricstest.Scrape(t, legacyregistry.Handler())
		started := got.Value("kubelet_pod_start_duration_seconds", nil) - before.Value("kubelet_pod_start_duration_seconds", nil)
		switch {
		case started < 1:
			return fmt.Errorf("kubelet_pod_start_duration_seconds has %v new samples, want the pod's start", started)
		case got.Value("kubelet_running_pods", nil) < 1:
			return fmt.Errorf("kubelet_running_pods = %v, want at least the running pod", got.Value("kubelet_running_pods", nil))
		case got.Value("kubelet_running_containers", map[string]string{"container_state": "running"}) < 1:
			return fmt.Errorf("kubelet_running_containers{running} = %v, want at least 1", got.Value("kubelet_running_containers", map[string]string{"container_state": "running"}))
		case got.Value("prober_probe_total", probeLabels("failed")) < 1 || got.Value("prober_probe_total", probeLabels("successful")) < 1:
			return fmt.Errorf("prober_probe_total: failed %v, successful %v; want both counted",
				got.Value("prober_probe_total", probeLabels("failed")), got.Value("prober_probe_total", probeLabels("successful")))
		}
		return nil
	})

	if err := env.client.CoreV1().Pods("default").Delete(context.Background(), "measured", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "probe series of the deleted pod dropped", func() error {
		got := metricstest.Scrape(t, legacyregistry.Handler())
		if m := got.Sample("prober_probe_total", map[string]string{"pod_uid": string(pod.UID)}); m != nil {
			return fmt.Errorf("prober_probe_total still has %v", m)
		}
		return nil
	})
}
