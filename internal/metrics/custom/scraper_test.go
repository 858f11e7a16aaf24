package custom

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTargetOf(t *testing.T) {
	pod := func(annotations map[string]string, mutate ...func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "web-1", Annotations: annotations},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.7"},
		}
		for _, m := range mutate {
			m(p)
		}
		return p
	}
	scrape := map[string]string{"prometheus.io/scrape": "true"}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		url     string
		ok, err bool
	}{
		{name: "not annotated", pod: pod(nil)},
		{name: "scrape false", pod: pod(map[string]string{"prometheus.io/scrape": "false"})},
		{name: "defaults: first container port, /metrics", pod: pod(scrape), url: "http://10.42.0.7:8080/metrics", ok: true},
		{
			name: "port, path and scheme",
			pod:  pod(map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9090", "prometheus.io/path": "stats", "prometheus.io/scheme": "https"}),
			url:  "https://10.42.0.7:9090/stats", ok: true,
		},
		{
			name: "IPv6",
			pod:  pod(scrape, func(p *corev1.Pod) { p.Status.PodIP = "fd00::7" }),
			url:  "http://[fd00::7]:8080/metrics", ok: true,
		},
		{name: "pending", pod: pod(scrape, func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending })},
		{name: "no IP yet", pod: pod(scrape, func(p *corev1.Pod) { p.Status.PodIP = "" })},
		{name: "terminating", pod: pod(scrape, func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Now()} })},
		{name: "bad port", pod: pod(map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "http"}), ok: true, err: true},
		{name: "no port anywhere", pod: pod(scrape, func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil }), ok: true, err: true},
		{name: "bad scheme", pod: pod(map[string]string{"prometheus.io/scrape": "true", "prometheus.io/scheme": "ftp"}), ok: true, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := TargetOf(tt.pod)
			if ok != tt.ok || (err != nil) != tt.err || got.URL != tt.url {
				t.Errorf("TargetOf = %q, %v, %v; want %q, %v, error %v", got.URL, ok, err, tt.url, tt.ok, tt.err)
			}
			if tt.url != "" && got.Pod.String() != "prod/web-1" {
				t.Errorf("TargetOf pod = %s", got.Pod)
			}
		})
	}
}
