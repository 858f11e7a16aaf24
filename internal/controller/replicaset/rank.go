package replicaset

import (
	"math"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/controller/podutil"
)

// podDeletionCostAnnotation lets users say which pods of a ReplicaSet go
// first on scale-down (lower cost first).
const podDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// podsToDelete picks the n least valuable pods among candidates. related
// are the active pods of the ReplicaSet and its siblings (other
// ReplicaSets with the same owner): a pod sharing its node with more of
// them is preferred for deletion, which spreads what remains.
func podsToDelete(candidates, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n >= len(candidates) {
		return candidates
	}
	onNode := map[string]int{}
	for _, p := range related {
		if p.Spec.NodeName != "" && podutil.IsActive(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	ranked := &rankedPods{pods: append([]*corev1.Pod(nil), candidates...), rank: make([]int, len(candidates)), now: now}
	for i, p := range ranked.pods {
		ranked.rank[i] = onNode[p.Spec.NodeName]
	}
	sort.Sort(ranked)
	return ranked.pods[:n]
}

// rankedPods orders pods from the one to delete first to the one to keep
// longest, by the criteria Kubernetes uses, in this order:
//  1. unassigned before assigned
//  2. Pending before Unknown before Running
//  3. not ready before ready
//  4. lower pod-deletion-cost before higher
//  5. more co-located siblings before fewer
//  6. ready for less time before more (compared on a log2 scale of the age)
//  7. more container restarts before fewer
//  8. newer before older (also on a log2 scale)
type rankedPods struct {
	pods []*corev1.Pod
	rank []int
	now  time.Time
}

func (r *rankedPods) Len() int { return len(r.pods) }

func (r *rankedPods) Swap(i, j int) {
	r.pods[i], r.pods[j] = r.pods[j], r.pods[i]
	r.rank[i], r.rank[j] = r.rank[j], r.rank[i]
}

var phaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

func (r *rankedPods) Less(i, j int) bool {
	a, b := r.pods[i], r.pods[j]
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if pa, pb := phaseOrder[a.Status.Phase], phaseOrder[b.Status.Phase]; pa != pb {
		return pa < pb
	}
	ra, rb := podutil.IsReady(a), podutil.IsReady(b)
	if ra != rb {
		return !ra
	}
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb
	}
	if r.rank[i] != r.rank[j] {
		return r.rank[i] > r.rank[j]
	}
	if ra && rb {
		ta, tb := podutil.ReadyCondition(a).LastTransitionTime, podutil.ReadyCondition(b).LastTransitionTime
		if !ta.Equal(&tb) {
			if ta.IsZero() || tb.IsZero() {
				return newerOrZero(ta, tb)
			}
			if d := r.logRankDiff(ta, tb); d != 0 {
				return d < 0
			}
			return a.UID < b.UID
		}
	}
	if xa, xb := podutil.MaxRestarts(a), podutil.MaxRestarts(b); xa != xb {
		return xa > xb
	}
	ta, tb := a.CreationTimestamp, b.CreationTimestamp
	if !ta.Equal(&tb) {
		if ta.IsZero() || tb.IsZero() {
			return newerOrZero(ta, tb)
		}
		if d := r.logRankDiff(ta, tb); d != 0 {
			return d < 0
		}
		return a.UID < b.UID
	}
	return false
}

// logRankDiff compares the ages of two instants in powers of two: pods
// whose ages differ by less than a factor of two count as equally old, so
// that the tie-break spreads deletions instead of always taking the newest.
func (r *rankedPods) logRankDiff(a, b metav1.Time) int64 {
	if r.now.IsZero() {
		switch {
		case a.After(b.Time):
			return -1
		case b.After(a.Time):
			return 1
		}
		return 0
	}
	return logAge(r.now.Sub(a.Time)) - logAge(r.now.Sub(b.Time))
}

func logAge(d time.Duration) int64 {
	if d <= 0 {
		return -1
	}
	return int64(math.Log2(float64(d)))
}

// newerOrZero orders a zero time first, else the later time first.
func newerOrZero(a, b metav1.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero()
	}
	return a.After(b.Time)
}

func deletionCost(p *corev1.Pod) int64 {
	v, ok := p.Annotations[podDeletionCostAnnotation]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return n
}
