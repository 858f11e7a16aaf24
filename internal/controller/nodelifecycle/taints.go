package nodelifecycle

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/flowcontrol"
)

// zoneState is Kubernetes' per-zone disruption state.
type zoneState string

const (
	stateNormal            zoneState = "Normal"
	stateFullDisruption    zoneState = "FullDisruption"
	statePartialDisruption zoneState = "PartialDisruption"
)

// managedNoSchedule maps node conditions to the NoSchedule taints the
// controller keeps (TaintNodesByCondition).
func desiredNoSchedule(n *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	add := func(key string) { out = append(out, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule}) }
	if c := nodeCondition(&n.Status, corev1.NodeReady); c != nil {
		switch c.Status {
		case corev1.ConditionFalse:
			add(corev1.TaintNodeNotReady)
		case corev1.ConditionUnknown:
			add(corev1.TaintNodeUnreachable)
		}
	}
	for _, m := range []struct {
		t   corev1.NodeConditionType
		key string
	}{
		{corev1.NodeMemoryPressure, corev1.TaintNodeMemoryPressure},
		{corev1.NodeDiskPressure, corev1.TaintNodeDiskPressure},
		{corev1.NodeNetworkUnavailable, corev1.TaintNodeNetworkUnavailable},
		{corev1.NodePIDPressure, corev1.TaintNodePIDPressure},
	} {
		if c := nodeCondition(&n.Status, m.t); c != nil && c.Status == corev1.ConditionTrue {
			add(m.key)
		}
	}
	if n.Spec.Unschedulable {
		add(corev1.TaintNodeUnschedulable)
	}
	return out
}

var managedNoScheduleKeys = map[string]bool{
	corev1.TaintNodeNotReady: true, corev1.TaintNodeUnreachable: true, corev1.TaintNodeMemoryPressure: true,
	corev1.TaintNodeDiskPressure: true, corev1.TaintNodeNetworkUnavailable: true, corev1.TaintNodePIDPressure: true,
	corev1.TaintNodeUnschedulable: true,
}

// desiredNoExecute is the NoExecute taint the node's Ready condition calls
// for: not-ready when False, unreachable when Unknown, none when True.
func desiredNoExecute(n *corev1.Node) string {
	c := nodeCondition(&n.Status, corev1.NodeReady)
	switch {
	case c == nil:
		return ""
	case c.Status == corev1.ConditionFalse:
		return corev1.TaintNodeNotReady
	case c.Status == corev1.ConditionUnknown:
		return corev1.TaintNodeUnreachable
	}
	return ""
}

func hasNoExecute(taints []corev1.Taint) bool {
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			return true
		}
	}
	return false
}

func zoneOf(n *corev1.Node) string {
	region, zone := n.Labels[corev1.LabelTopologyRegion], n.Labels[corev1.LabelTopologyZone]
	if region == "" && zone == "" {
		region, zone = n.Labels[corev1.LabelFailureDomainBetaRegion], n.Labels[corev1.LabelFailureDomainBetaZone]
	}
	if region == "" && zone == "" {
		return ""
	}
	return region + ":\x00:" + zone
}

func isReady(n *corev1.Node) bool {
	c := nodeCondition(&n.Status, corev1.NodeReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

// updateZoneStates recomputes each zone's disruption state and eviction
// rate limiter, and reports whether any state changed.
func (c *Controller) updateZoneStates(nodes []*corev1.Node) bool {
	type count struct{ total, notReady int }
	counts := map[string]*count{}
	for _, n := range nodes {
		z := zoneOf(n)
		if counts[z] == nil {
			counts[z] = &count{}
		}
		counts[z].total++
		if !isReady(n) {
			counts[z].notReady++
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := false
	for z, cnt := range counts {
		st := stateNormal
		switch {
		case cnt.notReady == cnt.total && cnt.total > 0:
			st = stateFullDisruption
		case cnt.notReady > 2 && float32(cnt.notReady)/float32(cnt.total) >= c.opts.UnhealthyZoneThreshold:
			st = statePartialDisruption
		}
		if old, ok := c.zones[z]; !ok || old != st {
			changed = true
			c.zones[z] = st
			qps := c.opts.NodeEvictionRate
			if st == statePartialDisruption {
				qps = 0
				if cnt.total > c.opts.LargeClusterSizeThreshold {
					qps = c.opts.SecondaryNodeEvictionRate
				}
			}
			if qps > 0 {
				c.limiters[z] = flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(qps, 1, c.opts.Clock)
			} else {
				c.limiters[z] = nil
			}
		}
	}
	for z := range c.zones {
		if counts[z] == nil {
			delete(c.zones, z)
			delete(c.limiters, z)
			changed = true
		}
	}
	return changed
}

// allZonesDown reports Kubernetes' "master disruption" mode: every zone is
// fully disrupted, so the fault is more likely the control plane's view
// than the nodes, and no node is tainted for eviction.
func (c *Controller) allZonesDown() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.zones) == 0 {
		return false
	}
	for _, st := range c.zones {
		if st != stateFullDisruption {
			return false
		}
	}
	return true
}

// syncTaints makes the node's node.kubernetes.io/* taints match its
// conditions. A new NoExecute taint waits for the zone's eviction rate
// limiter; the returned duration says when to try again.
func (c *Controller) syncTaints(ctx context.Context, name string) (time.Duration, error) {
	node, err := c.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	now := metav1.NewTime(c.opts.Clock.Now())
	var retry time.Duration

	want := desiredNoSchedule(node)
	noExec := desiredNoExecute(node)
	if c.allZonesDown() {
		noExec = ""
	}
	var taints []corev1.Taint
	has := func(key string, effect corev1.TaintEffect) *corev1.Taint {
		for i := range node.Spec.Taints {
			if node.Spec.Taints[i].Key == key && node.Spec.Taints[i].Effect == effect {
				return &node.Spec.Taints[i]
			}
		}
		return nil
	}
	for _, t := range node.Spec.Taints {
		managed := (t.Effect == corev1.TaintEffectNoSchedule && managedNoScheduleKeys[t.Key]) ||
			(t.Effect == corev1.TaintEffectNoExecute && (t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable))
		if !managed {
			taints = append(taints, t)
		}
	}
	for _, w := range want {
		if old := has(w.Key, w.Effect); old != nil {
			taints = append(taints, *old)
		} else {
			w.TimeAdded = &now
			taints = append(taints, w)
		}
	}
	if noExec != "" {
		if old := has(noExec, corev1.TaintEffectNoExecute); old != nil {
			taints = append(taints, *old)
		} else if c.tryAcceptEviction(zoneOf(node)) {
			taints = append(taints, corev1.Taint{Key: noExec, Effect: corev1.TaintEffectNoExecute, TimeAdded: &now})
		} else {
			// Keep the other NoExecute taint until this one may be added
			// (not-ready and unreachable swap without waiting).
			other := corev1.TaintNodeNotReady
			if noExec == corev1.TaintNodeNotReady {
				other = corev1.TaintNodeUnreachable
			}
			if old := has(other, corev1.TaintEffectNoExecute); old != nil {
				taints = append(taints, corev1.Taint{Key: noExec, Effect: corev1.TaintEffectNoExecute, TimeAdded: &now})
			} else {
				retry = time.Second
			}
		}
	}
	if apiequality.Semantic.DeepEqual(taints, node.Spec.Taints) || (len(taints) == 0 && len(node.Spec.Taints) == 0) {
		return retry, nil
	}
	upd := node.DeepCopy()
	upd.Spec.Taints = taints
	if _, err := c.client.CoreV1().Nodes().Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return 0, fmt.Errorf("update taints of node %s: %w", name, err)
	}
	return retry, nil
}

func (c *Controller) tryAcceptEviction(zone string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.limiters[zone]
	if !ok {
		// Zone not seen by a monitor pass yet: the normal rate.
		l = flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(c.opts.NodeEvictionRate, 1, c.opts.Clock)
		c.limiters[zone] = l
	}
	return l != nil && l.TryAccept()
}
