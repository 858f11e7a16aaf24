package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	fakescale "k8s.io/client-go/scale/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/controller/queue"
)

// fakeMetrics serves fixed metrics; a nil map is "no metrics".
type fakeMetrics struct {
	cpu  PodMetrics
	pods map[string]PodMetrics
}

func (f *fakeMetrics) PodResource(_ context.Context, _ corev1.ResourceName, _ string, _ labels.Selector, _ string) (PodMetrics, time.Time, error) {
	if f.cpu == nil {
		return nil, time.Time{}, errors.New("no metrics returned from resource metrics API")
	}
	return f.cpu, t0, nil
}

func (f *fakeMetrics) PodsMetric(_ context.Context, metric, _ string, _, _ labels.Selector) (PodMetrics, time.Time, error) {
	m, ok := f.pods[metric]
	if !ok {
		return nil, time.Time{}, errors.New("no metrics returned from custom metrics API")
	}
	return m, t0, nil
}

func (f *fakeMetrics) ObjectMetric(context.Context, string, string, *autoscalingv2.CrossVersionObjectReference, labels.Selector) (int64, time.Time, error) {
	return 0, time.Time{}, errors.New("no object metrics")
}

func (f *fakeMetrics) ExternalMetric(context.Context, string, string, labels.Selector) ([]int64, time.Time, error) {
	return nil, time.Time{}, errors.New("no external metrics")
}

// staticMapper maps only what it was given.
type staticMapper struct{ *meta.DefaultRESTMapper }

func (staticMapper) Reset() {}

func newMapper() staticMapper {
	m := meta.NewDefaultRESTMapper([]schema.GroupVersion{{Group: "apps", Version: "v1"}})
	m.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	return staticMapper{m}
}

// scales is a fake scale subresource of deployments by name.
type scales struct {
	fakescale.FakeScaleClient
	replicas map[string]int32
	selector string
	updates  []int32
}

func newScales(replicas map[string]int32) *scales {
	s := &scales{replicas: replicas, selector: "app=web"}
	s.AddReactor("get", "deployments", func(a clienttesting.Action) (bool, runtime.Object, error) {
		name := a.(clienttesting.GetAction).GetName()
		n, ok := s.replicas[name]
		if !ok {
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "deployments"}, name)
		}
		return true, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
			Spec: autoscalingv1.ScaleSpec{Replicas: n}, Status: autoscalingv1.ScaleStatus{Replicas: n, Selector: s.selector}}, nil
	})
	s.AddReactor("update", "deployments", func(a clienttesting.Action) (bool, runtime.Object, error) {
		sc := a.(clienttesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
		s.replicas[sc.Name] = sc.Spec.Replicas
		s.updates = append(s.updates, sc.Spec.Replicas)
		return true, sc, nil
	})
	return s
}

type fixture struct {
	ctl      *Controller
	client   *fake.Clientset
	scales   *scales
	recorder *record.FakeRecorder
	clock    *clocktesting.FakeClock
}

func newFixture(t *testing.T, hpa *autoscalingv2.HorizontalPodAutoscaler, src MetricsSource, replicas map[string]int32, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(append([]runtime.Object{hpa}, objs...)...)
	factory := informers.NewSharedInformerFactory(client, 0)
	f := &fixture{client: client, scales: newScales(replicas), recorder: record.NewFakeRecorder(100), clock: clocktesting.NewFakeClock(t0)}
	f.ctl = New(client, f.scales, newMapper(), src, factory, f.recorder, Options{Clock: f.clock, Options: queue.Options{Logger: slog.New(slog.DiscardHandler)}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return f
}

// sync runs one sync of the HPA and returns it as stored.
func (f *fixture) sync(t *testing.T) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	if _, err := f.ctl.sync(context.Background(), "ns/web"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	hpa, err := f.client.AutoscalingV2().HorizontalPodAutoscalers("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The next sync reads the stored status through the informer.
	waitFor(t, func() bool {
		cached, err := f.ctl.hpas.HorizontalPodAutoscalers("ns").Get("web")
		return err == nil && cached.ResourceVersion == hpa.ResourceVersion
	})
	return hpa
}

func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func newHPA(metrics ...autoscalingv2.MetricSpec) *autoscalingv2.HorizontalPodAutoscaler {
	if len(metrics) == 0 {
		metrics = []autoscalingv2.MetricSpec{cpuMetric(70)}
	}
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Generation: 1},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr.To[int32](2),
			MaxReplicas:    10,
			Metrics:        metrics,
		},
	}
}

func cpuMetric(percent int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(percent)},
	}}
}

func runtimePods(ps []*corev1.Pod) []runtime.Object {
	var out []runtime.Object
	for _, p := range ps {
		out = append(out, p)
	}
	return out
}

type wantCond struct {
	typ     autoscalingv2.HorizontalPodAutoscalerConditionType
	status  corev1.ConditionStatus
	reason  string
	message string
}

func checkConditions(t *testing.T, hpa *autoscalingv2.HorizontalPodAutoscaler, want ...wantCond) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, c := range hpa.Status.Conditions {
			if c.Type != w.typ {
				continue
			}
			found = true
			if c.Status != w.status || c.Reason != w.reason || c.Message != w.message {
				t.Errorf("condition %s = %s %s %q, want %s %s %q", w.typ, c.Status, c.Reason, c.Message, w.status, w.reason, w.message)
			}
		}
		if !found {
			t.Errorf("no condition %s in %+v", w.typ, hpa.Status.Conditions)
		}
	}
}

func checkEvents(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestScaleUpOnCPU(t *testing.T) {
	ps := pods(2)
	src := &fakeMetrics{cpu: usage(1400, 1400)} // 140 % of a 70 % target
	f := newFixture(t, newHPA(), src, map[string]int32{"web": 2}, runtimePods(ps)...)
	hpa := f.sync(t)
	if f.scales.replicas["web"] != 4 {
		t.Fatalf("replicas %d, want 4", f.scales.replicas["web"])
	}
	checkEvents(t, f.events(), "Normal SuccessfulRescale New size: 4; reason: cpu resource utilization (percentage of request) above target")
	checkConditions(t, hpa,
		wantCond{autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", "the HPA controller was able to update the target scale to 4"},
		wantCond{autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
		wantCond{autoscalingv2.ScalingLimited, corev1.ConditionFalse, "DesiredWithinRange", "the desired count is within the acceptable range"},
	)
	st := hpa.Status
	if st.CurrentReplicas != 2 || st.DesiredReplicas != 4 || st.LastScaleTime == nil || st.ObservedGeneration == nil || *st.ObservedGeneration != 1 {
		t.Errorf("status %+v", st)
	}
	if len(st.CurrentMetrics) != 1 || st.CurrentMetrics[0].Resource == nil || *st.CurrentMetrics[0].Resource.Current.AverageUtilization != 140 ||
		st.CurrentMetrics[0].Resource.Current.AverageValue.String() != "1400m" {
		t.Errorf("current metrics %+v", st.CurrentMetrics)
	}

	// The next period, at 70 %: nothing changes, the conditions say so.
	f.clock.Step(15 * time.Second)
	src.cpu = usage(700, 700, 700, 700)
	ps = append(ps, newPod("p2", 1000), newPod("p3", 1000))
	for _, p := range ps[2:] {
		if _, err := f.client.CoreV1().Pods("ns").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { l, _ := f.ctl.pods.List(labels.Everything()); return len(l) == 4 })
	hpa = f.sync(t)
	checkEvents(t, f.events())
	checkConditions(t, hpa, wantCond{autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale", "recommended size matches current size"})
	if hpa.Status.CurrentReplicas != 4 || hpa.Status.DesiredReplicas != 4 {
		t.Errorf("status %+v", hpa.Status)
	}
}

func TestScaleDownIsStabilized(t *testing.T) {
	src := &fakeMetrics{cpu: usage(100, 100, 100, 100)}
	f := newFixture(t, newHPA(), src, map[string]int32{"web": 4}, runtimePods(pods(4))...)
	hpa := f.sync(t)
	// The first recommendation is the current count: no scale down yet.
	if len(f.scales.updates) != 0 {
		t.Fatalf("scaled to %v within the stabilization window", f.scales.updates)
	}
	checkConditions(t, hpa, wantCond{autoscalingv2.AbleToScale, corev1.ConditionTrue, "ScaleDownStabilized",
		"recent recommendations were higher than current one, applying the highest recent recommendation"})
	f.clock.Step(5*time.Minute + time.Second)
	hpa = f.sync(t)
	if f.scales.replicas["web"] != 2 {
		t.Fatalf("replicas %d after the window, want 2 (min)", f.scales.replicas["web"])
	}
	checkEvents(t, f.events(), "Normal SuccessfulRescale New size: 2; reason: All metrics below target")
	checkConditions(t, hpa, wantCond{autoscalingv2.ScalingLimited, corev1.ConditionTrue, "TooFewReplicas", "the desired replica count is less than the minimum replica count"})
}

func TestTooManyReplicas(t *testing.T) {
	src := &fakeMetrics{cpu: usage(7000, 7000, 7000, 7000, 7000, 7000, 7000, 7000)}
	f := newFixture(t, newHPA(), src, map[string]int32{"web": 8}, runtimePods(pods(8))...)
	hpa := f.sync(t)
	if f.scales.replicas["web"] != 10 {
		t.Fatalf("replicas %d, want 10", f.scales.replicas["web"])
	}
	checkConditions(t, hpa, wantCond{autoscalingv2.ScalingLimited, corev1.ConditionTrue, "TooManyReplicas", "the desired replica count is more than the maximum replica count"})
}

func TestReplicasOutsideRangeAreBroughtIn(t *testing.T) {
	f := newFixture(t, newHPA(), &fakeMetrics{}, map[string]int32{"web": 1})
	f.sync(t)
	checkEvents(t, f.events(), "Normal SuccessfulRescale New size: 2; reason: Current number of replicas below Spec.MinReplicas")
	f.scales.replicas["web"] = 12
	f.sync(t)
	checkEvents(t, f.events(), "Normal SuccessfulRescale New size: 10; reason: Current number of replicas above Spec.MaxReplicas")
}

// Done-when 7: bad input gets Kubernetes' condition and event and leaves
// the target's replicas alone.
func TestFailuresLeaveReplicasAlone(t *testing.T) {
	for _, tt := range []struct {
		name       string
		hpa        *autoscalingv2.HorizontalPodAutoscaler
		pods       []*corev1.Pod
		src        *fakeMetrics
		replicas   map[string]int32
		wantEvents []string
		wantCond   []wantCond
	}{
		{
			name: "missing target", hpa: newHPA(), src: &fakeMetrics{}, replicas: map[string]int32{},
			wantEvents: []string{`Warning FailedGetScale deployments.apps "web" not found`},
			wantCond: []wantCond{{autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale",
				`the HPA controller was unable to get the target's current scale: deployments.apps "web" not found`}},
		},
		{
			name: "no requests for a Utilization target", hpa: newHPA(), pods: pods(1, noRequest), src: &fakeMetrics{cpu: usage(900)},
			replicas: map[string]int32{"web": 3},
			wantEvents: []string{
				"Warning FailedGetResourceMetric failed to get cpu utilization: missing request for cpu in container c of Pod p0",
				"Warning FailedComputeMetricsReplicas invalid metrics (1 invalid out of 1), first error is: failed to get cpu utilization: missing request for cpu in container c of Pod p0",
			},
			wantCond: []wantCond{
				{autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale"},
				{autoscalingv2.ScalingActive, corev1.ConditionFalse, "FailedGetResourceMetric",
					"the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container c of Pod p0"},
			},
		},
		{
			name: "no resource metrics", hpa: newHPA(), pods: pods(3), src: &fakeMetrics{}, replicas: map[string]int32{"web": 3},
			wantEvents: []string{
				"Warning FailedGetResourceMetric failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API",
				"Warning FailedComputeMetricsReplicas invalid metrics (1 invalid out of 1), first error is: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API",
			},
			wantCond: []wantCond{{autoscalingv2.ScalingActive, corev1.ConditionFalse, "FailedGetResourceMetric",
				"the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API"}},
		},
		{
			name: "a metric that does not exist",
			hpa: newHPA(autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "nope"},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resourceQuantity("10"))},
			}}),
			pods: pods(3), src: &fakeMetrics{}, replicas: map[string]int32{"web": 3},
			wantEvents: []string{
				"Warning FailedGetPodsMetric failed to get pods metric value: unable to get metric nope: no metrics returned from custom metrics API",
				"Warning FailedComputeMetricsReplicas invalid metrics (1 invalid out of 1), first error is: failed to get pods metric value: unable to get metric nope: no metrics returned from custom metrics API",
			},
			wantCond: []wantCond{{autoscalingv2.ScalingActive, corev1.ConditionFalse, "FailedGetPodsMetric",
				"the HPA was unable to compute the replica count: failed to get pods metric value: unable to get metric nope: no metrics returned from custom metrics API"}},
		},
		{
			name: "target scaled to zero", hpa: newHPA(), src: &fakeMetrics{}, replicas: map[string]int32{"web": 0},
			wantCond: []wantCond{{autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero"}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := fmt.Sprint(tt.replicas)
			f := newFixture(t, tt.hpa, tt.src, tt.replicas, runtimePods(tt.pods)...)
			hpa := f.sync(t)
			if len(f.scales.updates) != 0 || fmt.Sprint(f.scales.replicas) != before {
				t.Errorf("target scaled: %v", f.scales.updates)
			}
			checkEvents(t, f.events(), tt.wantEvents...)
			checkConditions(t, hpa, tt.wantCond...)
		})
	}
}

// One metric failing while another asks for more still scales up.
func TestFailedMetricDoesNotBlockScaleUp(t *testing.T) {
	missing := autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: "nope"},
		Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resourceQuantity("10"))},
	}}
	rps := autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: "http_requests_per_second"},
		Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resourceQuantity("10"))},
	}}
	src := &fakeMetrics{pods: map[string]PodMetrics{"http_requests_per_second": usage(25000, 25000)}}
	f := newFixture(t, newHPA(missing, rps), src, map[string]int32{"web": 2}, runtimePods(pods(2))...)
	hpa := f.sync(t)
	if f.scales.replicas["web"] != 4 {
		t.Fatalf("replicas %d, want 4 (ceil(2.5 × 2) = 5, limited to twice 2)", f.scales.replicas["web"])
	}
	checkConditions(t, hpa,
		wantCond{autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from pods metric http_requests_per_second"},
		wantCond{autoscalingv2.ScalingLimited, corev1.ConditionTrue, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"},
	)
	if got := hpa.Status.CurrentMetrics[1].Pods.Current.AverageValue.String(); got != "25" {
		t.Errorf("current rps %s, want 25", got)
	}
}

func resourceQuantity(s string) resource.Quantity { return resource.MustParse(s) }

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
