package podautoscaler

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// rules0 are Kubernetes' default rules at t0.
var rules0 = podRules{
	tolerances:              tolerances{down: DefaultTolerance, up: DefaultTolerance},
	cpuInitializationPeriod: DefaultCPUInitializationPeriod,
	initialReadinessDelay:   DefaultInitialReadinessDelay,
	now:                     t0,
}

type podOpt func(*corev1.Pod)

// newPod is a running pod requesting cpuMilli of CPU, started an hour
// before t0 and ready since then.
func newPod(name string, cpuMilli int64, opts ...podOpt) *corev1.Pod {
	start := metav1.NewTime(t0.Add(-time.Hour))
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(cpuMilli, resource.DecimalSI)},
		}}}},
		Status: corev1.PodStatus{
			Phase:     corev1.PodRunning,
			StartTime: &start,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
				LastTransitionTime: start}},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func deleted(p *corev1.Pod)           { p.DeletionTimestamp = &metav1.Time{Time: t0} }
func noRequest(p *corev1.Pod)         { p.Spec.Containers[0].Resources.Requests = nil }

// startedAgo starts the pod d before t0; it became ready (ready true) or
// unready (false) at readyAt before t0.
func startedAgo(d time.Duration, ready bool, readyAt time.Duration) podOpt {
	return func(p *corev1.Pod) {
		start := metav1.NewTime(t0.Add(-d))
		p.Status.StartTime = &start
		st := corev1.ConditionTrue
		if !ready {
			st = corev1.ConditionFalse
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.NewTime(t0.Add(-readyAt))}}
	}
}

// pods are n pods requesting 1000m each.
func pods(n int, opts ...podOpt) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, newPod(fmt.Sprintf("p%d", i), 1000, opts...))
	}
	return out
}

// usage gives pod pI the i-th value (millicores), sampled at t0 over a
// minute.
func usage(values ...int64) PodMetrics {
	m := PodMetrics{}
	for i, v := range values {
		m[fmt.Sprintf("p%d", i)] = PodMetric{Timestamp: t0, Window: time.Minute, Value: v}
	}
	return m
}

// The Kubernetes documentation's algorithm ("desiredReplicas =
// ceil[currentReplicas * currentMetricValue / desiredMetricValue]", within
// tolerance no change, missing metrics at 100 % on scale down and 0 on
// scale up, not-yet-ready pods at 0 on scale up, no action when that
// reverses the direction), for a CPU Utilization target.
func TestUtilizationProposal(t *testing.T) {
	for _, tt := range []struct {
		name      string
		current   int32
		target    int32
		pods      []*corev1.Pod
		metrics   PodMetrics
		want      int32
		wantUtil  int32
		wantRaw   int64
		wantError string
	}{
		{name: "200% of a 100% target doubles", current: 3, target: 100, pods: pods(3), metrics: usage(2000, 2000, 2000), want: 6, wantUtil: 200, wantRaw: 2000},
		{name: "50% of a 100% target halves", current: 4, target: 100, pods: pods(4), metrics: usage(500, 500, 500, 500), want: 2, wantUtil: 50, wantRaw: 500},
		{name: "seed: 34% of 70% on 2 replicas", current: 2, target: 70, pods: pods(2), metrics: usage(340, 340), want: 1, wantUtil: 34, wantRaw: 340},
		{name: "ratio 1.08 is within tolerance", current: 3, target: 50, pods: pods(3), metrics: usage(540, 540, 540), want: 3, wantUtil: 54, wantRaw: 540},
		{name: "ratio 0.9 is within tolerance", current: 3, target: 50, pods: pods(3), metrics: usage(450, 450, 450), want: 3, wantUtil: 45, wantRaw: 450},
		{name: "ratio 1.12 is outside tolerance", current: 3, target: 50, pods: pods(3), metrics: usage(560, 560, 560), want: 4, wantUtil: 56, wantRaw: 560},
		{name: "walkthrough: 305% of 50% on one pod", current: 1, target: 50, pods: pods(1), metrics: usage(3050), want: 7, wantUtil: 305, wantRaw: 3050},
		{
			// Ratio 0.5 → scale down; the missing pod counts as 100 %:
			// (500+500+1000)/3000 = 66 % → ratio 0.66 → ceil(0.66 × 3) = 2.
			name: "missing metric on scale down counts as 100% of request", current: 3, target: 100,
			pods: pods(3), metrics: usage(500, 500), want: 2, wantUtil: 50, wantRaw: 500,
		},
		{
			// Ratio 2 → scale up; the missing pod counts as 0:
			// 4000/3000 = 133 % → ceil(1.33 × 3) = 4.
			name: "missing metric on scale up counts as 0", current: 3, target: 100,
			pods: pods(3), metrics: usage(2000, 2000), want: 4, wantUtil: 200, wantRaw: 2000,
		},
		{
			// 110/100 (1.1, scale up) with the missing pod at 0: 220/300 =
			// 73 % < 100 % reverses the direction: no change.
			name: "missing metric reversing the direction leaves replicas", current: 3, target: 100,
			pods: pods(3), metrics: usage(1150, 1150), want: 3, wantUtil: 115, wantRaw: 1150,
		},
		{
			// Only the ready pod's 2000m counts for the ratio; the
			// unready one counts 0: 2000/2000 = 100 % → within tolerance.
			name: "unready pod counts as 0 on scale up", current: 2, target: 100,
			pods:    []*corev1.Pod{newPod("p0", 1000), newPod("p1", 1000, startedAgo(time.Minute, false, time.Minute))},
			metrics: usage(2000, 3000), want: 2, wantUtil: 200, wantRaw: 2000,
		},
		{
			name: "unready pod does not count on scale down", current: 2, target: 100,
			pods:    []*corev1.Pod{newPod("p0", 1000), newPod("p1", 1000, startedAgo(time.Minute, false, time.Minute))},
			metrics: usage(200, 3000), want: 1, wantUtil: 20, wantRaw: 200,
		},
		{
			// 300 % on the running pods, 0 on the pending one: 200 % of 3.
			name: "pending pod counts as 0 on scale up", current: 3, target: 100,
			pods: append(pods(2), newPod("p2", 1000, phase(corev1.PodPending))), metrics: usage(3000, 3000), want: 6, wantUtil: 300, wantRaw: 3000,
		},
		{
			// Ready, but its sample window began before it became ready
			// (within the CPU initialization period): not trusted.
			name: "sample from before readiness within the cpu initialization period", current: 2, target: 100,
			pods:    []*corev1.Pod{newPod("p0", 1000), newPod("p1", 1000, startedAgo(2*time.Minute, true, 30*time.Second))},
			metrics: usage(400, 5000), want: 1, wantUtil: 40, wantRaw: 400,
		},
		{
			name: "ready pod after the cpu initialization period counts", current: 2, target: 100,
			pods:    []*corev1.Pod{newPod("p0", 1000), newPod("p1", 1000, startedAgo(10*time.Minute, true, 30*time.Second))},
			metrics: usage(400, 5000), want: 6, wantUtil: 270, wantRaw: 2700,
		},
		{
			// Unready after the initialization period, but it was ready
			// once (it turned unready well after the initial readiness
			// delay): its CPU counts.
			name: "pod unready after having been ready counts", current: 2, target: 100,
			pods:    []*corev1.Pod{newPod("p0", 1000), newPod("p1", 1000, startedAgo(10*time.Minute, false, time.Minute))},
			metrics: usage(2000, 2000), want: 4, wantUtil: 200, wantRaw: 2000,
		},
		{
			// Unready since 10 s after start (inside the 30 s initial
			// readiness delay): it was never ready and is ignored.
			name: "pod never ready after the initialization period is unready", current: 2, target: 100,
			pods:    []*corev1.Pod{newPod("p0", 1000), newPod("p1", 1000, startedAgo(10*time.Minute, false, 10*time.Minute-10*time.Second))},
			metrics: usage(2000, 2000), want: 2, wantUtil: 200, wantRaw: 2000,
		},
		{
			name: "deleted and failed pods are ignored", current: 3, target: 100,
			pods:    []*corev1.Pod{newPod("p0", 1000), newPod("p1", 1000, deleted), newPod("p2", 1000, phase(corev1.PodFailed))},
			metrics: usage(300, 5000, 5000), want: 1, wantUtil: 30, wantRaw: 300,
		},
		{name: "no pods", current: 1, target: 50, wantError: "no pods returned by selector while calculating replica count"},
		{
			name: "only unready pods have metrics", current: 1, target: 50,
			pods: pods(1, phase(corev1.PodPending)), metrics: usage(100), wantError: "did not receive metrics for targeted pods (pods might be unready)",
		},
		{
			name: "container without request", current: 1, target: 50,
			pods: pods(1, noRequest), metrics: usage(100), wantError: "missing request for cpu in container c of Pod p0",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, util, raw, err := rules0.utilizationProposal(tt.current, tt.target, corev1.ResourceCPU, "", tt.pods, tt.metrics)
			if tt.wantError != "" {
				if err == nil || err.Error() != tt.wantError {
					t.Fatalf("error %v, want %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || util != tt.wantUtil || raw != tt.wantRaw {
				t.Errorf("got %d replicas at %d%% (%dm), want %d at %d%% (%dm)", got, util, raw, tt.want, tt.wantUtil, tt.wantRaw)
			}
		})
	}
}

func TestUtilizationProposalOfOneContainer(t *testing.T) {
	p := newPod("p0", 1000)
	p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar"}) // no request: not looked at
	got, util, _, err := rules0.utilizationProposal(1, 50, corev1.ResourceCPU, "c", []*corev1.Pod{p}, usage(1000))
	if err != nil || got != 2 || util != 100 {
		t.Errorf("got %d at %d%% (%v), want 2 at 100%%", got, util, err)
	}
}

// Pods metrics and Resource AverageValue targets: the average per pod
// against the target; a missing pod counts as exactly on target on a scale
// down.
func TestAverageProposal(t *testing.T) {
	for _, tt := range []struct {
		name    string
		current int32
		target  int64
		pods    []*corev1.Pod
		metrics PodMetrics
		want    int32
		wantAvg int64
	}{
		{name: "50 rps per pod against 10 on one pod", current: 1, target: 10000, pods: pods(1), metrics: usage(50000), want: 5, wantAvg: 50000},
		{name: "within tolerance", current: 2, target: 10000, pods: pods(2), metrics: usage(10500, 10500), want: 2, wantAvg: 10500},
		{name: "no traffic proposes zero (min replicas clamps it later)", current: 4, target: 10000, pods: pods(4), metrics: usage(0, 0, 0, 0), want: 0, wantAvg: 0},
		{name: "missing pod on scale down counts as the target", current: 3, target: 10000, pods: pods(3), metrics: usage(2000, 2000), want: 2, wantAvg: 2000},
		{name: "missing pod on scale up counts as 0", current: 3, target: 10000, pods: pods(3), metrics: usage(30000, 30000), want: 6, wantAvg: 30000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, avg, err := rules0.averageProposal(tt.current, tt.target, "", tt.pods, tt.metrics)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || avg != tt.wantAvg {
				t.Errorf("got %d replicas at %d, want %d at %d", got, avg, tt.want, tt.wantAvg)
			}
		})
	}
}

func TestRatioAndPerPodProposals(t *testing.T) {
	if n, err := rules0.ratioProposal(3, 2.0, pods(3)); err != nil || n != 6 {
		t.Errorf("ratio 2 on 3 ready pods: %d (%v), want 6", n, err)
	}
	if n, _ := rules0.ratioProposal(3, 1.05, pods(3)); n != 3 {
		t.Errorf("ratio 1.05: %d, want 3 (tolerance)", n)
	}
	if n, _ := rules0.ratioProposal(0, 2.5, nil); n != 3 {
		t.Errorf("ratio 2.5 at zero replicas: %d, want 3", n)
	}
	if n, avg := rules0.perPodProposal(2, 60000, 10000); n != 6 || avg != 30000 {
		t.Errorf("usage 60 against 10 per pod on 2: %d at %d, want 6 at 30000", n, avg)
	}
	if n, _ := rules0.perPodProposal(2, 21000, 10000); n != 2 {
		t.Errorf("usage 21 against 10 per pod on 2: %d, want 2 (tolerance)", n)
	}
}
