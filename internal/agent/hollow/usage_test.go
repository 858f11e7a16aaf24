package hollow

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSimulatedUsage(t *testing.T) {
	defCPU, defMem := resource.MustParse("1m"), resource.MustParse("8Mi")
	tests := []struct {
		name        string
		annotations map[string]string
		running     []string
		want        map[string]usageRate
	}{
		{name: "defaults", running: []string{"app"}, want: map[string]usageRate{"app": {nanocores: 1e6, memory: 8 << 20}}},
		{name: "annotated, split evenly", annotations: map[string]string{CPUAnnotation: "250m", MemoryAnnotation: "64Mi"},
			running: []string{"a", "b"}, want: map[string]usageRate{"a": {1.25e8, 32 << 20}, "b": {1.25e8, 32 << 20}}},
		{name: "whole cores", annotations: map[string]string{CPUAnnotation: " 2 "},
			running: []string{"a"}, want: map[string]usageRate{"a": {2e9, 8 << 20}}},
		{name: "not a quantity takes the default", annotations: map[string]string{CPUAnnotation: "lots", MemoryAnnotation: "64 MB"},
			running: []string{"a"}, want: map[string]usageRate{"a": {1e6, 8 << 20}}},
		{name: "negative is nothing", annotations: map[string]string{CPUAnnotation: "-1"},
			running: []string{"a"}, want: map[string]usageRate{"a": {0, 8 << 20}}},
		{name: "nothing running", annotations: map[string]string{CPUAnnotation: "1"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: tt.annotations}}
			got := simulatedUsage(pod, tt.running, defCPU, defMem)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: got %+v, want %+v", k, got[k], v)
				}
			}
		})
	}
}

func TestPodUsageCounters(t *testing.T) {
	t0 := time.Unix(1000, 0)
	start := map[string]time.Time{"app": t0}
	var u podUsage
	u.update(t0, map[string]usageRate{"app": {nanocores: 5e8, memory: 1}}, start)
	// 10 s at half a core, then the rate goes up to 2 cores for 5 s.
	u.update(t0.Add(10*time.Second), map[string]usageRate{"app": {nanocores: 2e9, memory: 2}}, start)
	ctrs, cpu, rate, mem := u.stats(t0.Add(15 * time.Second))
	if len(ctrs) != 1 || cpu != 15e9 || rate != 2e9 || mem != 2 {
		t.Fatalf("stats = %d containers, cpu %d, rate %d, mem %d; want 1, 15e9, 2e9, 2", len(ctrs), cpu, rate, mem)
	}
	// The container restarted: its counter starts over.
	restarted := map[string]time.Time{"app": t0.Add(20 * time.Second)}
	u.update(t0.Add(20*time.Second), map[string]usageRate{"app": {nanocores: 1e9}}, restarted)
	if _, cpu, _, _ := u.stats(t0.Add(21 * time.Second)); cpu != 1e9 {
		t.Errorf("after a restart cpu = %d, want 1e9", cpu)
	}
	// Stopped: gone.
	u.update(t0.Add(22*time.Second), nil, nil)
	if ctrs, _, _, _ := u.stats(t0.Add(23 * time.Second)); len(ctrs) != 0 {
		t.Errorf("stopped container still listed: %+v", ctrs)
	}
}
