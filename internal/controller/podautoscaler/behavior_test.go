package podautoscaler

import (
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/utils/ptr"
)

const window5m = 5 * time.Minute

func TestNormalizeWithoutBehavior(t *testing.T) {
	for _, tt := range []struct {
		name                    string
		past                    []recommendation
		current, desired        int32
		minReplicas, maxReplica int32
		want                    limit
	}{
		{
			name: "within range", current: 3, desired: 5, minReplicas: 2, maxReplica: 10,
			want: limit{replicas: 5, ableReason: reasonReady, ableMessage: messageReady, limitReason: reasonWithinRange, limitMessage: messageWithinRange},
		},
		{
			name: "clamped to max", current: 8, desired: 14, minReplicas: 2, maxReplica: 10,
			want: limit{replicas: 10, ableReason: reasonReady, ableMessage: messageReady, limited: true, limitReason: reasonTooMany, limitMessage: messageTooMany},
		},
		{
			name: "clamped to min", current: 3, desired: 1, minReplicas: 2, maxReplica: 10,
			want: limit{replicas: 2, ableReason: reasonReady, ableMessage: messageReady, limited: true, limitReason: reasonTooFew, limitMessage: messageTooFew},
		},
		{
			// Without behavior a step may at most double (or reach 4).
			name: "scale-up limit: twice the current", current: 3, desired: 20, minReplicas: 1, maxReplica: 50,
			want: limit{replicas: 6, ableReason: reasonReady, ableMessage: messageReady, limited: true, limitReason: reasonUpLimit, limitMessage: messageUpLimit},
		},
		{
			name: "scale-up limit: at least 4", current: 1, desired: 7, minReplicas: 1, maxReplica: 10,
			want: limit{replicas: 4, ableReason: reasonReady, ableMessage: messageReady, limited: true, limitReason: reasonUpLimit, limitMessage: messageUpLimit},
		},
		{
			// The highest recommendation of the last 5 minutes wins.
			name: "scale down stabilized", current: 6, desired: 2, minReplicas: 1, maxReplica: 10,
			past: []recommendation{{6, t0.Add(-4 * time.Minute)}, {5, t0.Add(-time.Minute)}},
			want: limit{replicas: 6, ableReason: reasonDownStabilized, ableMessage: messageDownStabilized, limitReason: reasonWithinRange, limitMessage: messageWithinRange},
		},
		{
			name: "recommendations older than the window are forgotten", current: 6, desired: 2, minReplicas: 1, maxReplica: 10,
			past: []recommendation{{6, t0.Add(-6 * time.Minute)}, {4, t0.Add(-time.Minute)}},
			want: limit{replicas: 4, ableReason: reasonDownStabilized, ableMessage: messageDownStabilized, limitReason: reasonWithinRange, limitMessage: messageWithinRange},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := &history{recommendations: tt.past}
			got := h.normalize(tt.current, tt.desired, tt.minReplicas, tt.maxReplica, window5m, t0)
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func pol(typ autoscalingv2.HPAScalingPolicyType, value, period int32) autoscalingv2.HPAScalingPolicy {
	return autoscalingv2.HPAScalingPolicy{Type: typ, Value: value, PeriodSeconds: period}
}

// The behavior examples of Kubernetes' HPA documentation.
func TestNormalizeWithBehavior(t *testing.T) {
	down := func(r autoscalingv2.HPAScalingRules) *autoscalingv2.HorizontalPodAutoscalerBehavior {
		r.StabilizationWindowSeconds = cmpOr(r.StabilizationWindowSeconds, ptr.To[int32](0))
		return &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &r}
	}
	up := func(r autoscalingv2.HPAScalingRules) *autoscalingv2.HorizontalPodAutoscalerBehavior {
		return &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &r}
	}
	docPolicies := autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{
		pol(autoscalingv2.PodsScalingPolicy, 4, 60), pol(autoscalingv2.PercentScalingPolicy, 10, 60),
	}}
	for _, tt := range []struct {
		name             string
		behavior         *autoscalingv2.HorizontalPodAutoscalerBehavior
		past             []recommendation
		ups, downs       []scaleEvent
		current, desired int32
		min, max         int32
		want             int32
		wantAble         string
		wantLimit        string
	}{
		// "if there are 80 replicas and the target has to be scaled down
		// to 10 replicas then during the first step 8 replicas will be
		// reduced" (Percent 10 beats Pods 4 under selectPolicy Max).
		{name: "80 → 72: 10% beats 4 pods", behavior: down(docPolicies), current: 80, desired: 10, min: 1, max: 100,
			want: 72, wantAble: reasonReady, wantLimit: reasonDownLimit},
		// "when the number of replicas is 72, 10% of the pods is 7.2 but
		// the number is rounded up to 8" (a period later).
		{name: "72 → 64 a period later", behavior: down(docPolicies), current: 72, desired: 10, min: 1, max: 100,
			downs: []scaleEvent{{8, t0.Add(-61 * time.Second)}}, want: 64, wantAble: reasonReady, wantLimit: reasonDownLimit},
		// Within the same period the 8 already removed count: 80 was the
		// start, so 72 stays.
		{name: "no second step within the period", behavior: down(docPolicies), current: 72, desired: 10, min: 1, max: 100,
			downs: []scaleEvent{{8, t0.Add(-30 * time.Second)}}, want: 72, wantAble: reasonReady, wantLimit: reasonDownLimit},
		// "When the number of replicas falls below 40 the first policy
		// (Pods) is applied and 4 replicas will be reduced at a time."
		{name: "below 40 the Pods policy removes 4", behavior: down(docPolicies), current: 30, desired: 10, min: 1, max: 100,
			want: 26, wantAble: reasonReady, wantLimit: reasonDownLimit},
		{name: "selectPolicy Min takes the smaller change", behavior: down(autoscalingv2.HPAScalingRules{
			SelectPolicy: ptr.To(autoscalingv2.MinChangePolicySelect), Policies: docPolicies.Policies}),
			current: 80, desired: 10, min: 1, max: 100, want: 76, wantAble: reasonReady, wantLimit: reasonDownLimit},
		{name: "scale down Disabled", behavior: down(autoscalingv2.HPAScalingRules{SelectPolicy: ptr.To(autoscalingv2.DisabledPolicySelect)}),
			current: 10, desired: 2, min: 1, max: 100, want: 10, wantAble: reasonReady, wantLimit: reasonDownLimit},
		{name: "scale down Disabled still scales up", behavior: down(autoscalingv2.HPAScalingRules{SelectPolicy: ptr.To(autoscalingv2.DisabledPolicySelect)}),
			current: 2, desired: 5, min: 1, max: 100, want: 5, wantAble: reasonReady, wantLimit: reasonWithinRange},
		// "limit the rate at which pods are removed to 10% per minute"
		{name: "10% per minute", behavior: down(autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{pol(autoscalingv2.PercentScalingPolicy, 10, 60)}}),
			current: 20, desired: 1, min: 1, max: 100, want: 18, wantAble: reasonReady, wantLimit: reasonDownLimit},
		// "no more than 5 Pods are removed per minute"
		{name: "5 pods per minute", behavior: down(autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{pol(autoscalingv2.PodsScalingPolicy, 5, 60)}}),
			current: 20, desired: 1, min: 1, max: 100, want: 15, wantAble: reasonReady, wantLimit: reasonDownLimit},
		{name: "policy allows more than min: min wins", behavior: down(autoscalingv2.HPAScalingRules{}),
			current: 5, desired: 1, min: 3, max: 100, want: 3, wantAble: reasonReady, wantLimit: reasonTooFew},
		// Default scale up: the higher of 4 pods and 100 % per 15 s.
		{name: "default scale up: +4 pods from 2", behavior: up(autoscalingv2.HPAScalingRules{}),
			current: 2, desired: 20, min: 1, max: 100, want: 6, wantAble: reasonReady, wantLimit: reasonUpLimit},
		{name: "default scale up: doubles from 10", behavior: up(autoscalingv2.HPAScalingRules{}),
			current: 10, desired: 50, min: 1, max: 100, want: 20, wantAble: reasonReady, wantLimit: reasonUpLimit},
		{name: "default scale up: max wins", behavior: up(autoscalingv2.HPAScalingRules{}),
			current: 10, desired: 50, min: 1, max: 12, want: 12, wantAble: reasonReady, wantLimit: reasonTooMany},
		// "scaleUp: Percent 900 per 60 s": one pod may become 10.
		{name: "900% per minute", behavior: up(autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{pol(autoscalingv2.PercentScalingPolicy, 900, 60)}}),
			current: 1, desired: 1000, min: 1, max: 1000, want: 10, wantAble: reasonReady, wantLimit: reasonUpLimit},
		{name: "scale up Disabled", behavior: up(autoscalingv2.HPAScalingRules{SelectPolicy: ptr.To(autoscalingv2.DisabledPolicySelect)}),
			current: 2, desired: 8, min: 1, max: 10, want: 2, wantAble: reasonReady, wantLimit: reasonUpLimit},
		// The scale-down window defaults to the controller's 5 minutes:
		// the highest recommendation in it wins.
		{name: "default scale-down window", behavior: up(autoscalingv2.HPAScalingRules{}),
			past:    []recommendation{{8, t0.Add(-4 * time.Minute)}, {6, t0.Add(-2 * time.Minute)}},
			current: 8, desired: 3, min: 1, max: 10, want: 8, wantAble: reasonDownStabilized, wantLimit: reasonWithinRange},
		{name: "scale-down window of 60 s", behavior: down(autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](60)}),
			past:    []recommendation{{8, t0.Add(-4 * time.Minute)}, {6, t0.Add(-30 * time.Second)}},
			current: 8, desired: 3, min: 1, max: 10, want: 6, wantAble: reasonDownStabilized, wantLimit: reasonWithinRange},
		// A scale-up window: the lowest recommendation in it wins (not
		// below the current count).
		{name: "scale-up window", behavior: up(autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](120)}),
			past:    []recommendation{{3, t0.Add(-time.Minute)}},
			current: 2, desired: 6, min: 1, max: 10, want: 3, wantAble: reasonUpStabilized, wantLimit: reasonWithinRange},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := &history{recommendations: tt.past, ups: tt.ups, downs: tt.downs}
			got := h.normalizeWithBehavior(tt.behavior, tt.current, tt.desired, tt.min, tt.max, window5m, t0)
			if got.replicas != tt.want || got.ableReason != tt.wantAble || got.limitReason != tt.wantLimit {
				t.Errorf("got %d (%s, %s), want %d (%s, %s)", got.replicas, got.ableReason, got.limitReason, tt.want, tt.wantAble, tt.wantLimit)
			}
			if got.limited != (tt.wantLimit != reasonWithinRange) {
				t.Errorf("limited %v with reason %s", got.limited, got.limitReason)
			}
		})
	}
}

func cmpOr[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

func TestRecordScale(t *testing.T) {
	b := &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{
		Policies: []autoscalingv2.HPAScalingPolicy{pol(autoscalingv2.PodsScalingPolicy, 1, 60)},
	}}
	h := &history{}
	h.recordScale(nil, 2, 5, t0)
	if len(h.ups) != 0 {
		t.Fatalf("without behavior no events are kept: %v", h.ups)
	}
	h.recordScale(b, 2, 5, t0.Add(-2*time.Minute))
	h.recordScale(b, 5, 4, t0)
	if len(h.ups) != 1 || h.ups[0].change != 3 || len(h.downs) != 1 || h.downs[0].change != 1 {
		t.Fatalf("events up %v down %v", h.ups, h.downs)
	}
	// One pod per minute: right after scaling 5 → 4 no more is allowed.
	if got := h.normalizeWithBehavior(b, 4, 1, 1, 10, 0, t0.Add(10*time.Second)).replicas; got != 4 {
		t.Errorf("10 s later: %d, want 4", got)
	}
	if got := h.normalizeWithBehavior(b, 4, 1, 1, 10, 0, t0.Add(61*time.Second)).replicas; got != 3 {
		t.Errorf("61 s later: %d, want 3", got)
	}
	// An event older than the longest period is replaced, not appended.
	h.recordScale(b, 4, 3, t0.Add(2*time.Minute))
	if len(h.downs) != 1 {
		t.Errorf("outdated event kept: %v", h.downs)
	}
}
