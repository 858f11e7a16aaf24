package podautoscaler

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"skiff.dev/skiff/internal/controller/podutil"
)

// PodMetric is one pod's value of a metric, in milli-units (millicores for
// CPU, milli-bytes for memory, milli-requests per second ...), with the end
// of the window it was measured over.
type PodMetric struct {
	Timestamp time.Time
	Window    time.Duration
	Value     int64
}

// PodMetrics maps pod names to their metric.
type PodMetrics map[string]PodMetric

// tolerances are how far from 1.0 a usage ratio may be, below and above,
// before the replica count changes.
type tolerances struct{ down, up float64 }

// within reports whether ratio is close enough to 1.0 to leave the replicas.
func (t tolerances) within(ratio float64) bool {
	if ratio < 1.0 {
		return 1.0-ratio <= t.down
	}
	return ratio-1.0 <= t.up
}

// podRules are the readiness rules of one calculation: how long after
// start a pod's CPU is suspect, and how long a pod may be unready at start
// and still count as never having been ready.
type podRules struct {
	tolerances
	cpuInitializationPeriod time.Duration
	initialReadinessDelay   time.Duration
	now                     time.Time
}

// podGroups sorts the target's pods as Kubernetes does before a
// calculation: ready pods with a metric are counted; deleted and failed
// pods are ignored; pending pods, and for CPU pods not yet ready or still
// starting, are unready; running pods without a metric are missing.
type podGroups struct {
	ready   int
	unready sets.Set[string]
	missing sets.Set[string]
	ignored sets.Set[string]
}

func (r podRules) group(pods []*corev1.Pod, metrics PodMetrics, resource corev1.ResourceName) podGroups {
	g := podGroups{unready: sets.New[string](), missing: sets.New[string](), ignored: sets.New[string]()}
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed {
			g.ignored.Insert(pod.Name)
			continue
		}
		if pod.Status.Phase == corev1.PodPending {
			g.unready.Insert(pod.Name)
			continue
		}
		metric, ok := metrics[pod.Name]
		if !ok {
			g.missing.Insert(pod.Name)
			continue
		}
		if resource == corev1.ResourceCPU && r.cpuUnready(pod, metric) {
			g.unready.Insert(pod.Name)
			continue
		}
		g.ready++
	}
	return g
}

// cpuUnready reports whether a pod's CPU sample must not be trusted: the
// pod has no Ready condition or start time; within the CPU initialization
// period it is not ready or its sample's window began before it became
// ready; after that period it is unready and has never been ready (it
// turned unready within the initial readiness delay of its start).
func (r podRules) cpuUnready(pod *corev1.Pod, metric PodMetric) bool {
	cond := podutil.ReadyCondition(pod)
	start := pod.Status.StartTime
	if cond == nil || start == nil {
		return true
	}
	if start.Add(r.cpuInitializationPeriod).After(r.now) {
		return cond.Status == corev1.ConditionFalse || metric.Timestamp.Before(cond.LastTransitionTime.Add(metric.Window))
	}
	return cond.Status == corev1.ConditionFalse && start.Add(r.initialReadinessDelay).After(cond.LastTransitionTime.Time)
}

var (
	errNoPods        = errors.New("no pods returned by selector while calculating replica count")
	errNoReadyMetric = errors.New("did not receive metrics for targeted pods (pods might be unready)")
	errNoMatch       = errors.New("no metrics returned matched known pods")
)

// requests sums each pod's requests of resource over its containers (or
// the one named container), restartable init containers included; a
// container without that request is an error.
func requests(pods []*corev1.Pod, container string, resource corev1.ResourceName) (map[string]int64, error) {
	out := make(map[string]int64, len(pods))
	for _, pod := range pods {
		containers := append([]corev1.Container(nil), pod.Spec.Containers...)
		for _, c := range pod.Spec.InitContainers {
			if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
				containers = append(containers, c)
			}
		}
		var sum int64
		for _, c := range containers {
			if container != "" && container != c.Name {
				continue
			}
			q, ok := c.Resources.Requests[resource]
			if !ok {
				return nil, fmt.Errorf("missing request for %s in container %s of Pod %s", resource, c.Name, pod.Name)
			}
			sum += q.MilliValue()
		}
		out[pod.Name] = sum
	}
	return out, nil
}

// utilizationRatio is the pods' usage as a percentage of their requests
// (truncated to an integer, as Kubernetes does) over the target, with that
// percentage and the average raw usage. Metrics of pods without a request
// entry are left out.
func utilizationRatio(metrics PodMetrics, reqs map[string]int64, target int32) (ratio float64, utilization int32, raw int64, err error) {
	var usage, requested, n int64
	for name, m := range metrics {
		r, ok := reqs[name]
		if !ok {
			continue
		}
		usage += m.Value
		requested += r
		n++
	}
	if requested == 0 {
		return 0, 0, 0, errNoMatch
	}
	utilization = int32(usage * 100 / requested)
	return float64(utilization) / float64(target), utilization, usage / n, nil
}

// usageRatio is the pods' average usage over the target, and that average.
func usageRatio(metrics PodMetrics, target int64) (float64, int64) {
	var sum int64
	for _, m := range metrics {
		sum += m.Value
	}
	avg := sum / int64(len(metrics))
	return float64(avg) / float64(target), avg
}

// utilizationProposal is the replica count for a Resource or
// ContainerResource metric with a Utilization target, with the measured
// utilization (percent of request) and average raw usage (milli-units).
//
// As Kubernetes: when nothing is missing or unready it is
// ceil(ratio × ready pods), or the current count within tolerance. Else the
// ratio is computed again with missing pods at 100 % of their request (or
// the target, if above 100 %) on a scale down and at 0 on a scale up, and
// unready pods at 0 on a scale up; if that brings the ratio within
// tolerance or reverses the direction, the count stays.
func (r podRules) utilizationProposal(current int32, target int32, resource corev1.ResourceName, container string,
	pods []*corev1.Pod, metrics PodMetrics) (replicas, utilization int32, raw int64, err error) {
	if len(pods) == 0 {
		return 0, 0, 0, errNoPods
	}
	metrics = maps.Clone(metrics)
	g := r.group(pods, metrics, resource)
	drop(metrics, g.ignored)
	drop(metrics, g.unready)
	if len(metrics) == 0 {
		return 0, 0, 0, errNoReadyMetric
	}
	reqs, err := requests(pods, container, resource)
	if err != nil {
		return 0, 0, 0, err
	}
	ratio, utilization, raw, err := utilizationRatio(metrics, reqs, target)
	if err != nil {
		return 0, 0, 0, err
	}
	scaleUpWithUnready := len(g.unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(g.missing) == 0 {
		if r.within(ratio) {
			return current, utilization, raw, nil
		}
		return int32(math.Ceil(ratio * float64(g.ready))), utilization, raw, nil
	}
	if len(g.missing) > 0 {
		fallback := int64(max(100, target))
		for name := range g.missing {
			switch {
			case ratio < 1.0:
				metrics[name] = PodMetric{Value: reqs[name] * fallback / 100}
			case ratio > 1.0:
				metrics[name] = PodMetric{}
			}
		}
	}
	if scaleUpWithUnready {
		for name := range g.unready {
			metrics[name] = PodMetric{}
		}
	}
	newRatio, _, _, err := utilizationRatio(metrics, reqs, target)
	if err != nil {
		return 0, utilization, raw, err
	}
	return r.settle(current, ratio, newRatio, len(metrics)), utilization, raw, nil
}

// settle is the count after the missing and unready pods were filled in:
// the current count when the new ratio is within tolerance or its direction
// differs from the first ratio's, else ceil(newRatio × pods considered)
// unless that moves against the ratio.
func (r podRules) settle(current int32, ratio, newRatio float64, considered int) int32 {
	if r.within(newRatio) || (ratio < 1.0 && newRatio > 1.0) || (ratio > 1.0 && newRatio < 1.0) {
		return current
	}
	n := int32(math.Ceil(newRatio * float64(considered)))
	if (newRatio < 1.0 && n > current) || (newRatio > 1.0 && n < current) {
		return current
	}
	return n
}

// averageProposal is the replica count for a per-pod average target
// (a Resource AverageValue or a Pods metric), with the measured average,
// by the same rules as utilizationProposal; a missing pod counts as exactly
// on target on a scale down.
func (r podRules) averageProposal(current int32, target int64, resource corev1.ResourceName,
	pods []*corev1.Pod, metrics PodMetrics) (int32, int64, error) {
	if len(pods) == 0 {
		return 0, 0, errNoPods
	}
	metrics = maps.Clone(metrics)
	g := r.group(pods, metrics, resource)
	drop(metrics, g.ignored)
	drop(metrics, g.unready)
	if len(metrics) == 0 {
		return 0, 0, errNoReadyMetric
	}
	ratio, usage := usageRatio(metrics, target)
	scaleUpWithUnready := len(g.unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(g.missing) == 0 {
		if r.within(ratio) {
			return current, usage, nil
		}
		return int32(math.Ceil(ratio * float64(g.ready))), usage, nil
	}
	for name := range g.missing {
		if ratio < 1.0 {
			metrics[name] = PodMetric{Value: target}
		} else {
			metrics[name] = PodMetric{}
		}
	}
	if scaleUpWithUnready {
		for name := range g.unready {
			metrics[name] = PodMetric{}
		}
	}
	newRatio, _ := usageRatio(metrics, target)
	return r.settle(current, ratio, newRatio, len(metrics)), usage, nil
}

// ratioProposal is the replica count for a usage ratio of a whole-target
// value (an Object or External metric with a Value target): the current
// count within tolerance, else ceil(ratio × ready pods); a target at zero
// replicas goes to ceil(ratio).
func (r podRules) ratioProposal(current int32, ratio float64, pods []*corev1.Pod) (int32, error) {
	if current == 0 {
		return int32(math.Ceil(ratio)), nil
	}
	if r.within(ratio) {
		return current, nil
	}
	if len(pods) == 0 {
		return 0, fmt.Errorf("unable to calculate ready pods: %w", errNoPods)
	}
	ready := 0
	for _, pod := range pods {
		if pod.DeletionTimestamp == nil && pod.Status.Phase == corev1.PodRunning && podutil.IsReady(pod) {
			ready++
		}
	}
	return int32(math.Ceil(ratio * float64(ready))), nil
}

// perPodProposal is the replica count for a total usage against a per-pod
// AverageValue target (Object and External metrics): the status replicas
// within tolerance, else ceil(usage / target); with the average usage per
// current replica.
func (r podRules) perPodProposal(statusReplicas int32, usage, target int64) (int32, int64) {
	replicas := statusReplicas
	ratio := float64(usage) / (float64(target) * float64(statusReplicas))
	if !r.within(ratio) {
		replicas = int32(math.Ceil(float64(usage) / float64(target)))
	}
	avg := usage
	if statusReplicas > 0 {
		avg = int64(math.Ceil(float64(usage) / float64(statusReplicas)))
	}
	return replicas, avg
}

func drop(metrics PodMetrics, names sets.Set[string]) {
	for name := range names {
		delete(metrics, name)
	}
}
