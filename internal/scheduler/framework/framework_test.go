package framework_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"skiff.dev/skiff/internal/scheduler/framework"
	ft "skiff.dev/skiff/internal/scheduler/framework/frameworktest"
)

func TestPodRequests(t *testing.T) {
	sidecar := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name    string
		pod     *corev1.Pod
		wantCPU int64
		wantMem int64
		nzCPU   int64
	}{
		{"containers", ft.MakePod("p", ft.Req("cpu", "500m", "memory", "1Gi")), 500, 1 << 30, 500},
		{"no requests use scoring defaults", ft.MakePod("p", nil), 0, 0, framework.DefaultMilliCPURequest},
		{"init container larger than containers", ft.MakePod("p", ft.Req("cpu", "500m"), func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{Requests: ft.Req("cpu", "2")}}}
		}), 2000, 0, 2000},
		{"sidecar adds to containers", ft.MakePod("p", ft.Req("cpu", "500m"), func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "side", RestartPolicy: &sidecar, Resources: corev1.ResourceRequirements{Requests: ft.Req("cpu", "250m")}}}
		}), 750, 0, 750},
		{"overhead", ft.MakePod("p", ft.Req("cpu", "500m"), func(p *corev1.Pod) {
			p.Spec.Overhead = ft.Req("cpu", "100m")
		}), 600, 0, 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pi := framework.NewPodInfo(tt.pod)
			if pi.Requests.MilliCPU != tt.wantCPU || pi.Requests.Memory != tt.wantMem || pi.NonZeroMilliCPU != tt.nzCPU {
				t.Errorf("requests cpu=%d mem=%d nonzero cpu=%d; want %d %d %d", pi.Requests.MilliCPU, pi.Requests.Memory, pi.NonZeroMilliCPU, tt.wantCPU, tt.wantMem, tt.nzCPU)
			}
		})
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct {
		pct       int32
		all, want int
	}{
		{0, 10, 10}, {0, 99, 99}, {0, 100, 100}, {0, 500, 230}, {0, 1000, 420}, {0, 5000, 500}, {0, 6000, 300},
		{10, 500, 100}, {10, 5000, 500}, {100, 5000, 5000},
	}
	for _, tt := range tests {
		if got := framework.NewAlgorithm(framework.Profile{}, tt.pct, 1).NumFeasibleNodesToFind(tt.all); got != tt.want {
			t.Errorf("pct %d, %d nodes: %d, want %d", tt.pct, tt.all, got, tt.want)
		}
	}
}
