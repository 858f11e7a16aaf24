package job

import (
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// matchPodFailurePolicy applies a Job's podFailurePolicy to a failed pod:
// the first matching rule decides. It returns the Job failure message of a
// FailJob rule (else "") and whether the failure counts towards the
// backoffLimit (not for Ignore).
func matchPodFailurePolicy(policy *batchv1.PodFailurePolicy, pod *corev1.Pod) (string, bool) {
	if policy == nil {
		return "", true
	}
	for i, rule := range policy.Rules {
		var failJobMsg string
		switch {
		case rule.OnExitCodes != nil:
			s := matchExitCodes(pod, rule.OnExitCodes)
			if s == nil {
				continue
			}
			failJobMsg = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %v matching %v rule at index %d",
				s.Name, pod.Namespace, pod.Name, s.State.Terminated.ExitCode, rule.Action, i)
		case rule.OnPodConditions != nil:
			cond := matchPodConditions(pod, rule.OnPodConditions)
			if cond == nil {
				continue
			}
			failJobMsg = fmt.Sprintf("Pod %s/%s has condition %v matching %v rule at index %d",
				pod.Namespace, pod.Name, cond.Type, rule.Action, i)
		default:
			continue
		}
		switch rule.Action {
		case batchv1.PodFailurePolicyActionIgnore:
			return "", false
		case batchv1.PodFailurePolicyActionFailJob:
			return failJobMsg, true
		default: // Count; FailIndex counts as well without per-index limits.
			return "", true
		}
	}
	return "", true
}

func matchExitCodes(pod *corev1.Pod, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for i := range list {
			s := &list[i]
			t := s.State.Terminated
			if t == nil || t.ExitCode == 0 || (req.ContainerName != nil && *req.ContainerName != s.Name) {
				continue
			}
			in := slices.Contains(req.Values, t.ExitCode)
			if (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && in) || (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpNotIn && !in) {
				return s
			}
		}
	}
	return nil
}

func matchPodConditions(pod *corev1.Pod, patterns []batchv1.PodFailurePolicyOnPodConditionsPattern) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		for _, p := range patterns {
			if c.Type == p.Type && c.Status == p.Status {
				return c
			}
		}
	}
	return nil
}

// podFailurePolicyFailJob returns the message of the first failed pod that
// matches a FailJob rule, or "".
func podFailurePolicyFailJob(job *batchv1.Job, pods []*corev1.Pod) string {
	if job.Spec.PodFailurePolicy == nil {
		return ""
	}
	for _, p := range pods {
		if isPodFailed(p, job) {
			if msg, _ := matchPodFailurePolicy(job.Spec.PodFailurePolicy, p); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// podFailureCounts reports whether the pod's failure counts towards the
// backoffLimit.
func podFailureCounts(job *batchv1.Job, pod *corev1.Pod) bool {
	_, counts := matchPodFailurePolicy(job.Spec.PodFailurePolicy, pod)
	return counts
}

func countableFailures(job *batchv1.Job, pods []*corev1.Pod) []*corev1.Pod {
	return slices.DeleteFunc(slices.Clone(pods), func(p *corev1.Pod) bool { return !podFailureCounts(job, p) })
}

// matchSuccessPolicy reports whether an Indexed Job's succeeded indexes
// meet a rule of its successPolicy, with the message naming the first such
// rule.
func matchSuccessPolicy(policy *batchv1.SuccessPolicy, completions int, succeeded sets.Set[int]) (string, bool) {
	if policy == nil || succeeded.Len() == 0 {
		return "", false
	}
	for i, rule := range policy.Rules {
		if rule.SucceededIndexes != nil {
			required := parseIndexes(*rule.SucceededIndexes, completions)
			if required.Len() == 0 {
				continue
			}
			got := required.Intersection(succeeded).Len()
			if got == required.Len() || (rule.SucceededCount != nil && got >= int(*rule.SucceededCount)) {
				return fmt.Sprintf("Matched rules at index %d", i), true
			}
		} else if rule.SucceededCount != nil && succeeded.Len() >= int(*rule.SucceededCount) {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}
