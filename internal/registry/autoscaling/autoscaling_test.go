package autoscaling

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/utils/ptr"
)

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{autoscalingv1.AddToScheme, autoscalingv2.AddToScheme, RegisterConversions} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	RegisterDefaults(scheme)
	return scheme
}

// seedHPA is the seed's hpa.yaml: cpu at 70%, 2..10 replicas of ml-model.
func seedHPA() *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "ml-model-hpa", Namespace: "production"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "ml-model"},
			MinReplicas:    ptr.To[int32](2),
			MaxReplicas:    10,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](70)},
				},
			}},
		},
	}
}

func TestDefaults(t *testing.T) {
	scheme := newScheme(t)

	hpa := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 3}}
	scheme.Default(hpa)
	if got := hpa.Spec.MinReplicas; got == nil || *got != 1 {
		t.Errorf("minReplicas = %v, want 1", got)
	}
	want := []autoscalingv2.MetricSpec{defaultCPUMetric()}
	if !apiequality.Semantic.DeepEqual(hpa.Spec.Metrics, want) {
		t.Errorf("metrics = %+v, want cpu 80%% utilization", hpa.Spec.Metrics)
	}
	if hpa.Spec.Behavior != nil {
		t.Errorf("behavior = %+v, want none when not given", hpa.Spec.Behavior)
	}

	// A given behavior gets every unset field; what the user set is kept.
	hpa = seedHPA()
	hpa.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](60)},
	}
	scheme.Default(hpa)
	up, down := hpa.Spec.Behavior.ScaleUp, hpa.Spec.Behavior.ScaleDown
	wantUp := &autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr.To[int32](0),
		SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
	if !apiequality.Semantic.DeepEqual(up, wantUp) {
		t.Errorf("scaleUp = %s, want %s", mustJSON(t, up), mustJSON(t, wantUp))
	}
	wantDown := &autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr.To[int32](60),
		SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies:                   []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}},
	}
	if !apiequality.Semantic.DeepEqual(down, wantDown) {
		t.Errorf("scaleDown = %s, want %s", mustJSON(t, down), mustJSON(t, wantDown))
	}
	if *hpa.Spec.MinReplicas != 2 || len(hpa.Spec.Metrics) != 1 || *hpa.Spec.Metrics[0].Resource.Target.AverageUtilization != 70 {
		t.Errorf("defaulting changed given fields: %s", mustJSON(t, hpa.Spec))
	}

	// Kubernetes leaves the scale-down window to the controller.
	if got := ScaleDownRules(nil).StabilizationWindowSeconds; got != nil {
		t.Errorf("default scaleDown stabilizationWindowSeconds = %d, want unset", *got)
	}

	v1 := &autoscalingv1.HorizontalPodAutoscaler{}
	scheme.Default(v1)
	if v1.Spec.MinReplicas == nil || *v1.Spec.MinReplicas != 1 {
		t.Errorf("v1 minReplicas = %v, want 1", v1.Spec.MinReplicas)
	}
	if v1.Spec.TargetCPUUtilizationPercentage != nil {
		t.Errorf("v1 defaulting set targetCPUUtilizationPercentage; Kubernetes leaves it to conversion")
	}
}

func TestValidate(t *testing.T) {
	kind := Kinds()[0]
	tests := []struct {
		name   string
		mutate func(*autoscalingv2.HorizontalPodAutoscaler)
		want   []string
	}{
		{name: "seed hpa", mutate: func(*autoscalingv2.HorizontalPodAutoscaler) {}},
		{
			name:   "minReplicas 0",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = ptr.To[int32](0) },
			want: []string{
				"spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
				"spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas",
			},
		},
		{
			name:   "maxReplicas below minReplicas",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MaxReplicas = 1 },
			want:   []string{"spec.maxReplicas: Invalid value: 1: must be greater than or equal to `minReplicas`"},
		},
		{
			name:   "maxReplicas missing",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MaxReplicas = 0 },
			want: []string{
				"spec.maxReplicas: Invalid value: 0: must be greater than 0",
				"spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`",
			},
		},
		{
			name: "scaleTargetRef empty",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{}
			},
			want: []string{"spec.scaleTargetRef.kind: Required value", "spec.scaleTargetRef.name: Required value"},
		},
		{
			name:   "scaleTargetRef name with slash",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Name = "a/b" },
			want:   []string{`spec.scaleTargetRef.name: Invalid value: "a/b": may not contain '/'`},
		},
		{
			name:   "unknown metric type",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.Metrics[0].Type = "Cpu" },
			want: []string{
				`spec.metrics[0].type: Unsupported value: "Cpu": supported values: "ContainerResource", "External", "Object", "Pods", "Resource"`,
				`spec.metrics[0].type: Unsupported value: "Cpu": supported values: "ContainerResource", "External", "Object", "Pods", "Resource"`,
			},
		},
		{
			name:   "resource source missing",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.Metrics[0].Resource = nil },
			want:   []string{"spec.metrics[0].resource: Required value: must populate information for the given metric source"},
		},
		{
			name: "two sources",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics[0].Pods = &autoscalingv2.PodsMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "rps"},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("10"))},
				}
			},
			want: []string{"spec.metrics[0].pods: Forbidden: must populate the given metric source only"},
		},
		{
			name: "resource name and target missing",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics[0].Resource = &autoscalingv2.ResourceMetricSource{}
			},
			want: []string{
				"spec.metrics[0].resource.name: Required value: must specify a resource name",
				"spec.metrics[0].resource.target.type: Required value: must specify a metric target type",
				`spec.metrics[0].resource.target.type: Invalid value: "": must be either Utilization, Value, or AverageValue`,
				"spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization",
			},
		},
		{
			name: "averageUtilization 0",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics[0].Resource.Target.AverageUtilization = ptr.To[int32](0)
			},
			want: []string{"spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"},
		},
		{
			name: "pods metric without averageValue",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics = []autoscalingv2.MetricSpec{{
					Type: autoscalingv2.PodsMetricSourceType,
					Pods: &autoscalingv2.PodsMetricSource{
						Metric: autoscalingv2.MetricIdentifier{Name: "requests_per_second"},
						Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType},
					},
				}}
			},
			want: []string{"spec.metrics[0].pods.target.averageValue: Required value: must specify a positive target averageValue"},
		},
		{
			name: "behavior policies",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{
					ScaleUp: &autoscalingv2.HPAScalingRules{
						StabilizationWindowSeconds: ptr.To[int32](3601),
						SelectPolicy:               ptr.To(autoscalingv2.ScalingPolicySelect("Avg")),
						Policies:                   []autoscalingv2.HPAScalingPolicy{{Type: "Nodes", Value: 0, PeriodSeconds: 1801}},
					},
					ScaleDown: &autoscalingv2.HPAScalingRules{},
				}
			},
			want: []string{
				"spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 3601: must be less than or equal to 3600",
				`spec.behavior.scaleUp.selectPolicy: Unsupported value: "Avg": supported values: "Disabled", "Max", "Min"`,
				`spec.behavior.scaleUp.policies[0].type: Unsupported value: "Nodes": supported values: "Percent", "Pods"`,
				"spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
				"spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800",
				"spec.behavior.scaleDown.policies: Required value: must specify at least one Policy",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hpa := seedHPA()
			tt.mutate(hpa)
			assertErrors(t, errorStrings(kind.Validate(context.Background(), hpa)), tt.want)
		})
	}

	t.Run("update keeps a stored minReplicas of 0", func(t *testing.T) {
		old := seedHPA()
		old.Spec.MinReplicas = ptr.To[int32](0)
		old.Spec.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ExternalMetricSourceType,
			External: &autoscalingv2.ExternalMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "queue_length"},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: ptr.To(resource.MustParse("30"))},
			},
		}}
		hpa := old.DeepCopy()
		hpa.Spec.MaxReplicas = 20
		assertErrors(t, errorStrings(kind.ValidateUpdate(context.Background(), hpa, old)), nil)
	})

	t.Run("status", func(t *testing.T) {
		hpa := seedHPA()
		hpa.Status.DesiredReplicas = -1
		assertErrors(t, errorStrings(kind.ValidateStatusUpdate(context.Background(), hpa, seedHPA())),
			[]string{"status.desiredReplicas: Invalid value: -1: must be greater than or equal to 0"})
	})
}

func TestTable(t *testing.T) {
	kind := Kinds()[0]
	var names []string
	for _, c := range kind.Columns {
		names = append(names, strings.ToUpper(c.Name))
	}
	if got, want := strings.Join(names, " "), "REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE"; got != want {
		t.Errorf("columns = %q, want %q", got, want)
	}

	cpuStatus := func(pct int32) autoscalingv2.MetricStatus {
		return autoscalingv2.MetricStatus{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{
				Name:    corev1.ResourceCPU,
				Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To(pct), AverageValue: ptr.To(resource.MustParse("120m"))},
			},
		}
	}
	memory := autoscalingv2.MetricSpec{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name:   corev1.ResourceMemory,
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("1Gi"))},
		},
	}
	pods := autoscalingv2.MetricSpec{
		Type: autoscalingv2.PodsMetricSourceType,
		Pods: &autoscalingv2.PodsMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: "requests_per_second"},
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("1k"))},
		},
	}
	object := autoscalingv2.MetricSpec{
		Type: autoscalingv2.ObjectMetricSourceType,
		Object: &autoscalingv2.ObjectMetricSource{
			DescribedObject: autoscalingv2.CrossVersionObjectReference{Kind: "Ingress", Name: "ml-model"},
			Metric:          autoscalingv2.MetricIdentifier{Name: "requests"},
			Target:          autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("500"))},
		},
	}

	tests := []struct {
		name    string
		mutate  func(*autoscalingv2.HorizontalPodAutoscaler)
		targets string
	}{
		{name: "before metrics", mutate: func(*autoscalingv2.HorizontalPodAutoscaler) {}, targets: "cpu: <unknown>/70%"},
		{
			name: "with metrics",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Status.CurrentMetrics = []autoscalingv2.MetricStatus{cpuStatus(12)}
			},
			targets: "cpu: 12%/70%",
		},
		{name: "no metrics", mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.Metrics = nil }, targets: "<none>"},
		{
			name:    "average value",
			mutate:  func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.Metrics = append(h.Spec.Metrics, memory) },
			targets: "cpu: <unknown>/70%, memory: <unknown>/1Gi",
		},
		{
			name: "more than two",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics = append(h.Spec.Metrics, pods, object)
			},
			targets: "cpu: <unknown>/70%, <unknown>/1k + 1 more...",
		},
		{
			name: "object average",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics = []autoscalingv2.MetricSpec{object}
			},
			targets: "<unknown>/500 (avg)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hpa := seedHPA()
			hpa.CreationTimestamp = metav1.NewTime(time.Now().Add(-90 * time.Second))
			hpa.Status.CurrentReplicas = 2
			tt.mutate(hpa)
			cells, err := kind.Row(hpa)
			if err != nil {
				t.Fatal(err)
			}
			want := []interface{}{"Deployment/ml-model", tt.targets, "2", int64(10), int64(2), "90s"}
			if !apiequality.Semantic.DeepEqual(cells, want) {
				t.Errorf("row = %#v, want %#v", cells, want)
			}
		})
	}
}

// TestDecodeV1 decodes an autoscaling/v1 request as the API server does: the
// v1 defaulter runs, then conversion to the stored v2.
func TestDecodeV1(t *testing.T) {
	scheme := newScheme(t)
	decoder := serializer.NewCodecFactory(scheme).UniversalDecoder(autoscalingv2.SchemeGroupVersion)
	tests := []struct {
		name    string
		body    string
		minPods int32
		cpu     int32
	}{
		{
			name:    "targetCPUUtilizationPercentage",
			body:    `{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"ml-model"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"ml-model"},"maxReplicas":5,"targetCPUUtilizationPercentage":70}}`,
			minPods: 1,
			cpu:     70,
		},
		{
			name:    "kubectl autoscale without --cpu-percent",
			body:    `{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"ml-model"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"ml-model"},"minReplicas":2,"maxReplicas":5}}`,
			minPods: 2,
			cpu:     80,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, _, err := decoder.Decode([]byte(tt.body), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			hpa, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
			if !ok {
				t.Fatalf("decoded %T, want autoscaling/v2 HorizontalPodAutoscaler", obj)
			}
			if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != tt.minPods {
				t.Errorf("minReplicas = %v, want %d", hpa.Spec.MinReplicas, tt.minPods)
			}
			want := defaultCPUMetric()
			want.Resource.Target.AverageUtilization = ptr.To(tt.cpu)
			if !apiequality.Semantic.DeepEqual(hpa.Spec.Metrics, []autoscalingv2.MetricSpec{want}) {
				t.Errorf("metrics = %s, want cpu %d%%", mustJSON(t, hpa.Spec.Metrics), tt.cpu)
			}
			if len(hpa.Annotations) != 0 {
				t.Errorf("annotations = %v, want none", hpa.Annotations)
			}
		})
	}
}

func TestConvertV2ToV1(t *testing.T) {
	scheme := newScheme(t)
	hpa := seedHPA()
	hpa.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		CurrentReplicas: 3,
		DesiredReplicas: 4,
		CurrentMetrics: []autoscalingv2.MetricStatus{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{
				Name:    corev1.ResourceCPU,
				Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To[int32](12), AverageValue: ptr.To(resource.MustParse("60m"))},
			},
		}},
	}
	var v1 autoscalingv1.HorizontalPodAutoscaler
	if err := scheme.Convert(hpa, &v1, nil); err != nil {
		t.Fatal(err)
	}
	if got := v1.Spec.TargetCPUUtilizationPercentage; got == nil || *got != 70 {
		t.Errorf("targetCPUUtilizationPercentage = %v, want 70", got)
	}
	if got := v1.Status.CurrentCPUUtilizationPercentage; got == nil || *got != 12 {
		t.Errorf("currentCPUUtilizationPercentage = %v, want 12", got)
	}
	if _, ok := v1.Annotations[MetricSpecsAnnotation]; ok {
		t.Errorf("a cpu-only HPA got %s", MetricSpecsAnnotation)
	}
	want := `[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":12,"currentAverageValue":"60m"}}]`
	if got := v1.Annotations[MetricStatusesAnnotation]; got != want {
		t.Errorf("%s = %s, want %s", MetricStatusesAnnotation, got, want)
	}
	if hpa.Annotations != nil {
		t.Errorf("conversion modified the source annotations: %v", hpa.Annotations)
	}
}

// TestRoundTripThroughV1 reads a v2 object as v1 and writes it back: what v1
// cannot express survives in the annotations.
func TestRoundTripThroughV1(t *testing.T) {
	scheme := newScheme(t)
	hpa := seedHPA()
	hpa.Annotations = map[string]string{"team": "ml"}
	hpa.Spec.Metrics = append(hpa.Spec.Metrics,
		autoscalingv2.MetricSpec{
			Type: autoscalingv2.PodsMetricSourceType,
			Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "requests_per_second"},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("1k"))},
			},
		},
		autoscalingv2.MetricSpec{
			Type: autoscalingv2.ObjectMetricSourceType,
			Object: &autoscalingv2.ObjectMetricSource{
				DescribedObject: autoscalingv2.CrossVersionObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Name: "ml-model"},
				Metric:          autoscalingv2.MetricIdentifier{Name: "requests"},
				Target:          autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("500"))},
			},
		},
		autoscalingv2.MetricSpec{
			Type: autoscalingv2.ExternalMetricSourceType,
			External: &autoscalingv2.ExternalMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "queue_length", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"queue": "inference"}}},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: ptr.To(resource.MustParse("30"))},
			},
		},
		autoscalingv2.MetricSpec{
			Type: autoscalingv2.ContainerResourceMetricSourceType,
			ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
				Name:      corev1.ResourceMemory,
				Container: "server",
				Target:    autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](60)},
			},
		},
	)
	hpa.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](120)},
	}
	scheme.Default(hpa)
	ts := metav1.NewTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	hpa.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: ptr.To[int64](3),
		LastScaleTime:      &ts,
		CurrentReplicas:    3,
		DesiredReplicas:    4,
		CurrentMetrics: []autoscalingv2.MetricStatus{
			{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
				Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To[int32](91), AverageValue: ptr.To(resource.MustParse("455m"))},
			}},
			{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricStatus{
				Metric: autoscalingv2.MetricIdentifier{Name: "requests_per_second"}, Current: autoscalingv2.MetricValueStatus{AverageValue: ptr.To(resource.MustParse("1200"))},
			}},
		},
		Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
			{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, LastTransitionTime: ts, Reason: "ReadyForNewScale", Message: "recommended size matches current size"},
			{Type: autoscalingv2.ScalingLimited, Status: corev1.ConditionFalse, LastTransitionTime: ts, Reason: "DesiredWithinRange"},
		},
	}

	var v1 autoscalingv1.HorizontalPodAutoscaler
	if err := scheme.Convert(hpa, &v1, nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{MetricSpecsAnnotation, MetricStatusesAnnotation, ConditionsAnnotation, BehaviorSpecsAnnotation} {
		if _, ok := v1.Annotations[k]; !ok {
			t.Errorf("v1 object lacks annotation %s", k)
		}
	}
	if got := v1.Annotations[BehaviorSpecsAnnotation]; !strings.HasPrefix(got, `{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":4,"PeriodSeconds":15}`) {
		t.Errorf("behavior annotation = %s, want Kubernetes' internal encoding", got)
	}
	if got := v1.Annotations["team"]; got != "ml" {
		t.Errorf("user annotation lost: %v", v1.Annotations)
	}

	// Through the wire, as a client would read and send it back.
	data, err := json.Marshal(&v1)
	if err != nil {
		t.Fatal(err)
	}
	var back autoscalingv1.HorizontalPodAutoscaler
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	var got autoscalingv2.HorizontalPodAutoscaler
	if err := scheme.Convert(&back, &got, nil); err != nil {
		t.Fatal(err)
	}
	// v1 keeps the cpu target last among the metrics, as Kubernetes does.
	want := hpa.DeepCopy()
	want.Spec.Metrics = append(want.Spec.Metrics[1:], want.Spec.Metrics[0])
	if !apiequality.Semantic.DeepEqual(got.Spec, want.Spec) {
		t.Errorf("spec after round trip:\n got %s\nwant %s", mustJSON(t, got.Spec), mustJSON(t, want.Spec))
	}
	if !apiequality.Semantic.DeepEqual(got.Status, want.Status) {
		t.Errorf("status after round trip:\n got %s\nwant %s", mustJSON(t, got.Status), mustJSON(t, want.Status))
	}
	if !apiequality.Semantic.DeepEqual(got.Annotations, map[string]string{"team": "ml"}) {
		t.Errorf("annotations after round trip = %v, want only the user's", got.Annotations)
	}
}

// TestConvertV1FromKubernetes reads annotations as a real cluster writes them.
func TestConvertV1FromKubernetes(t *testing.T) {
	scheme := newScheme(t)
	v1 := &autoscalingv1.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{
			MetricSpecsAnnotation:   `[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"500Mi"}}]`,
			BehaviorSpecsAnnotation: `{"ScaleUp":null,"ScaleDown":{"StabilizationWindowSeconds":60,"SelectPolicy":"Min","Policies":[{"Type":"Pods","Value":1,"PeriodSeconds":60}],"Tolerance":null}}`,
			ConditionsAnnotation:    "not json",
		}},
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef:                 autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"},
			MinReplicas:                    ptr.To[int32](1),
			MaxReplicas:                    4,
			TargetCPUUtilizationPercentage: ptr.To[int32](50),
		},
	}
	var hpa autoscalingv2.HorizontalPodAutoscaler
	if err := scheme.Convert(v1, &hpa, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := formatMetrics(hpa.Spec.Metrics, nil), "memory: <unknown>/500Mi, cpu: <unknown>/50%"; got != want {
		t.Errorf("metrics = %q, want %q", got, want)
	}
	down := hpa.Spec.Behavior.ScaleDown
	if hpa.Spec.Behavior.ScaleUp != nil || *down.StabilizationWindowSeconds != 60 || *down.SelectPolicy != autoscalingv2.MinChangePolicySelect || len(down.Policies) != 1 {
		t.Errorf("behavior = %s", mustJSON(t, hpa.Spec.Behavior))
	}
	if hpa.Annotations != nil {
		t.Errorf("annotations = %v, want the round-trip ones dropped", hpa.Annotations)
	}
	if hpa.Status.Conditions != nil {
		t.Errorf("malformed conditions annotation was read: %v", hpa.Status.Conditions)
	}
	if v1.Annotations[ConditionsAnnotation] != "not json" {
		t.Errorf("conversion modified its input")
	}
}

func TestPrepareDropsRoundTripAnnotations(t *testing.T) {
	kind := Kinds()[0]
	hpa := seedHPA()
	hpa.Annotations = map[string]string{MetricSpecsAnnotation: "[]", "keep": "me"}
	kind.PrepareForCreate(context.Background(), hpa)
	if !apiequality.Semantic.DeepEqual(hpa.Annotations, map[string]string{"keep": "me"}) {
		t.Errorf("annotations = %v", hpa.Annotations)
	}
}

func errorStrings[T interface{ Error() string }](errs []T) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func assertErrors(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
}

func mustJSON(t *testing.T, v interface{}) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
