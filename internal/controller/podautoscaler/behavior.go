package podautoscaler

import (
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"skiff.dev/skiff/internal/registry/autoscaling"
)

// recommendation is one past proposal of an HPA, before stabilization.
type recommendation struct {
	replicas int32
	at       time.Time
}

// scaleEvent is one past change of an HPA's target, in one direction.
type scaleEvent struct {
	change int32
	at     time.Time
}

// history is what the controller remembers of one HPA between syncs: its
// recent recommendations (for the stabilization windows) and its recent
// scale-ups and scale-downs (for the rate policies).
type history struct {
	recommendations []recommendation
	ups, downs      []scaleEvent
}

// recordInitial remembers the current replica count as the first
// recommendation, so that a new HPA does not scale down at once.
func (h *history) recordInitial(current int32, now time.Time) {
	if len(h.recommendations) == 0 {
		h.recommendations = append(h.recommendations, recommendation{current, now})
	}
}

// record stores rec, reusing the slot of one older than cutoff if any.
func (h *history) record(rec recommendation, cutoff time.Time) {
	for i, r := range h.recommendations {
		if r.at.Before(cutoff) {
			h.recommendations[i] = rec
			return
		}
	}
	h.recommendations = append(h.recommendations, rec)
}

// limit is the outcome of normalization, and the conditions it sets:
// AbleToScale (always True here) and ScalingLimited.
type limit struct {
	replicas                  int32
	ableReason, ableMessage   string
	limited                   bool
	limitReason, limitMessage string
}

const (
	reasonReady                 = "ReadyForNewScale"
	messageReady                = "recommended size matches current size"
	reasonDownStabilized        = "ScaleDownStabilized"
	messageDownStabilized       = "recent recommendations were higher than current one, applying the highest recent recommendation"
	reasonUpStabilized          = "ScaleUpStabilized"
	messageUpStabilized         = "recent recommendations were lower than current one, applying the lowest recent recommendation"
	reasonTooMany               = "TooManyReplicas"
	messageTooMany              = "the desired replica count is more than the maximum replica count"
	reasonTooFew                = "TooFewReplicas"
	messageTooFew               = "the desired replica count is less than the minimum replica count"
	reasonUpLimit               = "ScaleUpLimit"
	messageUpLimit              = "the desired replica count is increasing faster than the maximum scale rate"
	reasonDownLimit             = "ScaleDownLimit"
	messageDownLimit            = "the desired replica count is decreasing faster than the maximum scale rate"
	reasonWithinRange           = "DesiredWithinRange"
	messageWithinRange          = "the desired count is within the acceptable range"
	scaleUpLimitFactor          = 2.0
	scaleUpLimitMinimum   int32 = 4
)

// normalize turns the metrics' proposal into the count to scale to for an
// HPA without behavior: the highest recommendation within the downscale
// stabilization window, then clamped to [min, max] and to at most
// max(2 × current, 4) (Kubernetes' scale-up limit without behavior).
func (h *history) normalize(current, desired, minReplicas, maxReplicas int32, window time.Duration, now time.Time) limit {
	stabilized := desired
	cutoff := now.Add(-window)
	for _, r := range h.recommendations {
		if !r.at.Before(cutoff) && r.replicas > stabilized {
			stabilized = r.replicas
		}
	}
	h.record(recommendation{desired, now}, cutoff)
	out := limit{ableReason: reasonReady, ableMessage: messageReady}
	if stabilized != desired {
		out.ableReason, out.ableMessage = reasonDownStabilized, messageDownStabilized
	}
	upLimit := max(int32(scaleUpLimitFactor*float64(current)), scaleUpLimitMinimum)
	maxAllowed, reason, message := maxReplicas, reasonTooMany, messageTooMany
	if maxReplicas > upLimit {
		maxAllowed, reason, message = upLimit, reasonUpLimit, messageUpLimit
	}
	switch {
	case stabilized < minReplicas:
		out.replicas, out.limitReason, out.limitMessage = minReplicas, reasonTooFew, messageTooFew
	case stabilized > maxAllowed:
		out.replicas, out.limitReason, out.limitMessage = maxAllowed, reason, message
	default:
		out.replicas, out.limitReason, out.limitMessage = stabilized, reasonWithinRange, messageWithinRange
	}
	out.limited = out.replicas != stabilized
	return out
}

// rules returns the HPA's behavior with Kubernetes' defaults filled in and
// the scale-down stabilization window defaulted to window when unset.
func rules(b *autoscalingv2.HorizontalPodAutoscalerBehavior, window time.Duration) (up, down *autoscalingv2.HPAScalingRules) {
	up = autoscaling.ScaleUpRules(b.ScaleUp)
	down = autoscaling.ScaleDownRules(b.ScaleDown)
	if down.StabilizationWindowSeconds == nil {
		s := int32(window / time.Second)
		down.StabilizationWindowSeconds = &s
	}
	return up, down
}

// normalizeWithBehavior turns the metrics' proposal into the count to scale
// to for an HPA with behavior: kept between the lowest recommendation of
// the scale-up window and the highest of the scale-down window, then held
// to the scaling policies' rates and to [min, max].
func (h *history) normalizeWithBehavior(b *autoscalingv2.HorizontalPodAutoscalerBehavior, current, desired, minReplicas, maxReplicas int32,
	window time.Duration, now time.Time) limit {
	up, down := rules(b, window)
	upWindow := time.Duration(*up.StabilizationWindowSeconds) * time.Second
	downWindow := time.Duration(*down.StabilizationWindowSeconds) * time.Second
	upRec, downRec := desired, desired
	for _, r := range h.recommendations {
		if r.at.After(now.Add(-upWindow)) {
			upRec = min(upRec, r.replicas)
		}
		if r.at.After(now.Add(-downWindow)) {
			downRec = max(downRec, r.replicas)
		}
	}
	h.record(recommendation{desired, now}, now.Add(-max(upWindow, downWindow)))
	stabilized := min(max(current, upRec), downRec)

	out := limit{ableReason: reasonReady, ableMessage: messageReady}
	if stabilized != desired {
		if desired >= current {
			out.ableReason, out.ableMessage = reasonUpStabilized, messageUpStabilized
		} else {
			out.ableReason, out.ableMessage = reasonDownStabilized, messageDownStabilized
		}
	}
	out.replicas, out.limitReason, out.limitMessage = stabilized, reasonWithinRange, messageWithinRange
	switch {
	case stabilized > current:
		upLimit := max(upLimitWithRules(current, h.ups, h.downs, up, now), current)
		maxAllowed, reason, message := maxReplicas, reasonTooMany, messageTooMany
		if maxReplicas > upLimit {
			maxAllowed, reason, message = upLimit, reasonUpLimit, messageUpLimit
		}
		if stabilized > maxAllowed {
			out.replicas, out.limitReason, out.limitMessage = maxAllowed, reason, message
		}
	case stabilized < current:
		downLimit := min(downLimitWithRules(current, h.ups, h.downs, down, now), current)
		minAllowed, reason, message := minReplicas, reasonTooFew, messageTooFew
		if minReplicas < downLimit {
			minAllowed, reason, message = downLimit, reasonDownLimit, messageDownLimit
		}
		if stabilized < minAllowed {
			out.replicas, out.limitReason, out.limitMessage = minAllowed, reason, message
		}
	}
	out.limited = out.replicas != stabilized
	return out
}

// changeInPeriod is the sum of the changes of the events in the last period.
func changeInPeriod(periodSeconds int32, events []scaleEvent, now time.Time) int32 {
	cutoff := now.Add(-time.Duration(periodSeconds) * time.Second)
	var n int32
	for _, e := range events {
		if e.at.After(cutoff) {
			n += e.change
		}
	}
	return n
}

// upLimitWithRules is the highest count the scale-up policies allow now:
// each policy's allowance from the count at the start of its period, the
// largest of them (selectPolicy Max) or the smallest (Min); Disabled allows
// no change.
func upLimitWithRules(current int32, ups, downs []scaleEvent, r *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	pick, result := larger, int32(math.MinInt32)
	switch *r.SelectPolicy {
	case autoscalingv2.DisabledPolicySelect:
		return current
	case autoscalingv2.MinChangePolicySelect:
		pick, result = smaller, math.MaxInt32
	}
	for _, p := range r.Policies {
		start := current - changeInPeriod(p.PeriodSeconds, ups, now) + changeInPeriod(p.PeriodSeconds, downs, now)
		var proposed int32
		switch p.Type {
		case autoscalingv2.PodsScalingPolicy:
			proposed = start + p.Value
		case autoscalingv2.PercentScalingPolicy:
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		result = pick(result, proposed)
	}
	return result
}

// downLimitWithRules is the lowest count the scale-down policies allow now,
// as upLimitWithRules in the other direction.
func downLimitWithRules(current int32, ups, downs []scaleEvent, r *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	pick, result := smaller, int32(math.MaxInt32)
	switch *r.SelectPolicy {
	case autoscalingv2.DisabledPolicySelect:
		return current
	case autoscalingv2.MinChangePolicySelect:
		pick, result = larger, math.MinInt32
	}
	for _, p := range r.Policies {
		start := current - changeInPeriod(p.PeriodSeconds, ups, now) + changeInPeriod(p.PeriodSeconds, downs, now)
		var proposed int32
		switch p.Type {
		case autoscalingv2.PodsScalingPolicy:
			proposed = start - p.Value
		case autoscalingv2.PercentScalingPolicy:
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		result = pick(result, proposed)
	}
	return result
}

// recordScale remembers a change from prev to next for the rate policies
// of behavior b (nothing without behavior), replacing an event older than
// the direction's longest policy period.
func (h *history) recordScale(b *autoscalingv2.HorizontalPodAutoscalerBehavior, prev, next int32, now time.Time) {
	if b == nil || prev == next {
		return
	}
	up, down := rules(b, 0)
	events, r, change := &h.downs, down, prev-next
	if next > prev {
		events, r, change = &h.ups, up, next-prev
	}
	var longest int32
	for _, p := range r.Policies {
		longest = max(longest, p.PeriodSeconds)
	}
	cutoff := now.Add(-time.Duration(longest) * time.Second)
	ev := scaleEvent{change: change, at: now}
	for i := range *events {
		if (*events)[i].at.Before(cutoff) {
			(*events)[i] = ev
			return
		}
	}
	*events = append(*events, ev)
}

func larger(a, b int32) int32  { return max(a, b) }
func smaller(a, b int32) int32 { return min(a, b) }
