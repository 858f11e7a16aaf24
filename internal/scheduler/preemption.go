package scheduler

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// reasonPreempted is the event reason on a pod evicted for a higher one.
const reasonPreempted = "Preempted"

// candidate is a node where evicting victims makes the pod fit;
// violations counts the victims whose eviction breaks a disruption budget.
type candidate struct {
	node       string
	victims    []*framework.PodInfo
	violations int
}

// mayPreempt tells whether pod may evict others: not with preemptionPolicy
// Never, and not while pods it already evicted on its nominated node are
// still terminating (as kube-scheduler, so one pod does not preempt twice).
func mayPreempt(pod *corev1.Pod, podsByNode map[string][]*framework.PodInfo) bool {
	if p := pod.Spec.PreemptionPolicy; p != nil && *p == corev1.PreemptNever {
		return false
	}
	nominated := pod.Status.NominatedNodeName
	if nominated == "" {
		return true
	}
	prio := corev1helpers.PodPriority(pod)
	for _, pi := range podsByNode[nominated] {
		if pi.Pod.DeletionTimestamp != nil && corev1helpers.PodPriority(pi.Pod) < prio {
			return false
		}
	}
	return true
}

// findCandidate decides where pi preempts: for every node, the fewest pods
// of lower priority whose eviction makes pi fit (selectVictims), then the
// best of those nodes (better). nil when no eviction makes pi fit.
func findCandidate(ctx context.Context, alg *framework.Algorithm, pi *framework.PodInfo, nodes []*framework.NodeInfo,
	podsByNode map[string][]*framework.PodInfo, pdbs []*policyv1.PodDisruptionBudget) *candidate {
	var best *candidate
	for _, n := range nodes {
		c := selectVictims(ctx, alg, pi, n, podsByNode[n.Node().Name], pdbs)
		if c != nil && (best == nil || better(c, best)) {
			best = c
		}
	}
	return best
}

// selectVictims removes every pod of lower priority from a copy of n; if
// pi then fits, it puts them back one at a time, highest priority first and
// those whose eviction would break a budget before the others, keeping each
// that still leaves room for pi. The pods left out are the victims.
func selectVictims(ctx context.Context, alg *framework.Algorithm, pi *framework.PodInfo, n *framework.NodeInfo,
	pods []*framework.PodInfo, pdbs []*policyv1.PodDisruptionBudget) *candidate {
	prio := corev1helpers.PodPriority(pi.Pod)
	trial := n.Clone()
	var lower []*framework.PodInfo
	for _, p := range pods {
		if p.Pod.DeletionTimestamp == nil && corev1helpers.PodPriority(p.Pod) < prio {
			lower = append(lower, p)
			trial.RemovePod(p)
		}
	}
	if len(lower) == 0 || !alg.FilterNode(ctx, pi, trial).IsSuccess() {
		return nil
	}
	sort.SliceStable(lower, func(i, j int) bool {
		return corev1helpers.PodPriority(lower[i].Pod) > corev1helpers.PodPriority(lower[j].Pod)
	})
	violating, safe := splitByBudget(lower, pdbs)
	c := &candidate{node: n.Node().Name}
	reprieve := func(p *framework.PodInfo) bool {
		trial.AddPod(p)
		if alg.FilterNode(ctx, pi, trial).IsSuccess() {
			return true
		}
		trial.RemovePod(p)
		c.victims = append(c.victims, p)
		return false
	}
	for _, p := range violating {
		if !reprieve(p) {
			c.violations++
		}
	}
	for _, p := range safe {
		reprieve(p)
	}
	return c
}

// splitByBudget sorts pods (in their order) into those whose eviction,
// counted one after another, breaks a PodDisruptionBudget and the others.
func splitByBudget(pods []*framework.PodInfo, pdbs []*policyv1.PodDisruptionBudget) (violating, safe []*framework.PodInfo) {
	allowed := make([]int32, len(pdbs))
	for i, pdb := range pdbs {
		allowed[i] = pdb.Status.DisruptionsAllowed
	}
	for _, p := range pods {
		breaks := false
		for i, pdb := range pdbs {
			if pdb.Namespace != p.Pod.Namespace {
				continue
			}
			selector, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil || selector.Empty() || !selector.Matches(labels.Set(p.Pod.Labels)) {
				continue
			}
			if _, gone := pdb.Status.DisruptedPods[p.Pod.Name]; gone {
				continue
			}
			allowed[i]--
			if allowed[i] < 0 {
				breaks = true
			}
		}
		if breaks {
			violating = append(violating, p)
		} else {
			safe = append(safe, p)
		}
	}
	return violating, safe
}

// better orders candidates as kube-scheduler does: fewer budget
// violations, then a lower highest victim priority, then a lower sum of
// victim priorities, then fewer victims, then the node name (stable).
func better(a, b *candidate) bool {
	if a.violations != b.violations {
		return a.violations < b.violations
	}
	ha, sa := priorities(a.victims)
	hb, sb := priorities(b.victims)
	if ha != hb {
		return ha < hb
	}
	if sa != sb {
		return sa < sb
	}
	if len(a.victims) != len(b.victims) {
		return len(a.victims) < len(b.victims)
	}
	return a.node < b.node
}

// priorities returns the highest and the sum of the victims' priorities;
// the sum shifts each by MaxInt32+1 so that negative ones count as less.
func priorities(victims []*framework.PodInfo) (highest int32, sum int64) {
	for i, v := range victims {
		p := corev1helpers.PodPriority(v.Pod)
		if i == 0 || p > highest {
			highest = p
		}
		sum += int64(p) + 1<<31
	}
	return highest, sum
}

// preempt decides whether pi can preempt and, if so, evicts the victims
// and nominates the node on the pod's status. It returns the nominated
// node, or "".
func (s *Scheduler) preempt(ctx context.Context, pi *framework.PodInfo) string {
	pod := pi.Pod
	podsByNode := s.cache.podsByNode()
	if !mayPreempt(pod, podsByNode) {
		return ""
	}
	var pdbs []*policyv1.PodDisruptionBudget
	if s.pdbs != nil {
		pdbs, _ = s.pdbs.List(labels.Everything())
	}
	c := findCandidate(ctx, s.alg, pi, s.snapshot.list, podsByNode, pdbs)
	if c == nil {
		return ""
	}
	for _, v := range c.victims {
		victim := v.Pod
		err := s.client.CoreV1().Pods(victim.Namespace).Delete(ctx, victim.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &victim.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) {
			s.log.Error("preempting pod", "victim", klogKey(victim), "pod", klogKey(pod), "err", err)
			return ""
		}
		s.recorder.Eventf(victim, corev1.EventTypeNormal, reasonPreempted, "Preempted by pod %s on node %s", pod.UID, c.node)
	}
	patch := fmt.Sprintf(`{"metadata":{"uid":%q},"status":{"nominatedNodeName":%q}}`, pod.UID, c.node)
	_, err := s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}, "status")
	if err != nil && !apierrors.IsNotFound(err) {
		s.log.Error("nominating node", "pod", klogKey(pod), "node", c.node, "err", err)
	}
	s.log.Info("preempted", "pod", klogKey(pod), "node", c.node, "victims", len(c.victims))
	return c.node
}
