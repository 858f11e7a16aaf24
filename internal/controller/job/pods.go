package job

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"skiff.dev/skiff/internal/controller/podutil"
)

// completionIndexEnv is the variable through which an Indexed Job's
// containers learn their index (the node agent resolves the field ref).
const completionIndexEnv = "JOB_COMPLETION_INDEX"

// maxGeneratedNameLength leaves room for the 5 random characters the API
// server appends to a generateName within a 63-character name.
const maxGeneratedNameLength = 63 - 5

func labelsEverything() labels.Selector { return labels.Everything() }

func hasTrackingFinalizer(pod *corev1.Pod) bool {
	return slices.Contains(pod.Finalizers, batchv1.JobTrackingFinalizer)
}

// onlyReplaceFailedPods reports whether terminating pods must reach a
// terminal phase before they are replaced (podReplacementPolicy Failed,
// implied by a pod failure policy).
func onlyReplaceFailedPods(job *batchv1.Job) bool {
	if p := job.Spec.PodReplacementPolicy; p != nil && *p == batchv1.Failed {
		return true
	}
	return job.Spec.PodFailurePolicy != nil
}

// isPodFailed: the pod failed or, unless only failed pods are replaced, it is
// being deleted before it succeeded (an orphan may never reach Failed).
func isPodFailed(pod *corev1.Pod, job *batchv1.Job) bool {
	if pod.Status.Phase == corev1.PodFailed {
		return true
	}
	if onlyReplaceFailedPods(job) {
		return false
	}
	return pod.DeletionTimestamp != nil && pod.Status.Phase != corev1.PodSucceeded
}

func podReadySince(pod *corev1.Pod) time.Time {
	if c := podutil.ReadyCondition(pod); c != nil && c.Status == corev1.ConditionTrue {
		return c.LastTransitionTime.Time
	}
	return time.Time{}
}

func countReady(pods []*corev1.Pod) int32 {
	var n int32
	for _, p := range pods {
		if podutil.IsReady(p) {
			n++
		}
	}
	return n
}

// finishedTime estimates when a pod ended: the last container's finish,
// else the moment it became not ready, else its deletion, else its
// creation.
func finishedTime(pod *corev1.Pod) time.Time {
	var latest time.Time
	complete := len(pod.Status.ContainerStatuses) > 0
	for _, s := range pod.Status.ContainerStatuses {
		if s.State.Terminated == nil || s.State.Terminated.FinishedAt.IsZero() {
			complete = false
			break
		}
		if t := s.State.Terminated.FinishedAt.Time; t.After(latest) {
			latest = t
		}
	}
	if complete {
		return latest
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	if pod.DeletionTimestamp != nil {
		grace := int64(0)
		if pod.DeletionGracePeriodSeconds != nil {
			grace = *pod.DeletionGracePeriodSeconds
		}
		return pod.DeletionTimestamp.Add(-time.Duration(grace) * time.Second)
	}
	return pod.CreationTimestamp.Time
}

func restarts(pod *corev1.Pod) int32 {
	var n int32
	for _, s := range pod.Status.ContainerStatuses {
		n += s.RestartCount
	}
	return n
}

// lessAdvanced orders pods for removal the way Kubernetes' controllers do:
// unscheduled before scheduled, pending before unknown before running,
// not ready before ready, ready for less time first, more restarts first,
// newer first.
func lessAdvanced(a, b *corev1.Pod) int {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		if a.Spec.NodeName == "" {
			return -1
		}
		return 1
	}
	rank := map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}
	if ra, rb := rank[a.Status.Phase], rank[b.Status.Phase]; ra != rb {
		return ra - rb
	}
	if ra, rb := podutil.IsReady(a), podutil.IsReady(b); ra != rb {
		if !ra {
			return -1
		}
		return 1
	}
	if podutil.IsReady(a) {
		if ta, tb := podReadySince(a), podReadySince(b); !ta.Equal(tb) {
			return tb.Compare(ta) // later readiness (less time ready) first
		}
	}
	if ra, rb := restarts(a), restarts(b); ra != rb {
		return int(rb - ra)
	}
	return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
}

// newPod builds a pod of the Job from its template.
func newPod(job *batchv1.Job, index int) *corev1.Pod {
	t := job.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       job.Namespace,
			GenerateName:    generateName(job.Name),
			Labels:          maps.Clone(t.Labels),
			Annotations:     maps.Clone(t.Annotations),
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))},
		},
		Spec: t.Spec,
	}
	if !slices.Contains(pod.Finalizers, batchv1.JobTrackingFinalizer) {
		pod.Finalizers = append(pod.Finalizers, batchv1.JobTrackingFinalizer)
	}
	if index >= 0 {
		ix := strconv.Itoa(index)
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		if pod.Labels == nil {
			pod.Labels = map[string]string{}
		}
		pod.Annotations[batchv1.JobCompletionIndexAnnotation] = ix
		pod.Labels[batchv1.JobCompletionIndexAnnotation] = ix
		pod.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, index)
		pod.GenerateName = indexedGenerateName(job.Name, index)
		for i := range pod.Spec.InitContainers {
			addIndexEnv(&pod.Spec.InitContainers[i])
		}
		for i := range pod.Spec.Containers {
			addIndexEnv(&pod.Spec.Containers[i])
		}
	}
	return pod
}

func generateName(jobName string) string {
	prefix := jobName + "-"
	if len(validation.IsDNS1123Subdomain(prefix+"x")) != 0 {
		return jobName
	}
	return prefix
}

func indexedGenerateName(jobName string, index int) string {
	suffix := "-" + strconv.Itoa(index) + "-"
	prefix := jobName + suffix
	if len(prefix) > maxGeneratedNameLength {
		prefix = jobName[:maxGeneratedNameLength-len(suffix)] + suffix
	}
	return prefix
}

// addIndexEnv exposes the completion index, read from the pod's label by
// the downward API, unless the container sets the variable itself.
func addIndexEnv(c *corev1.Container) {
	for _, e := range c.Env {
		if e.Name == completionIndexEnv {
			return
		}
	}
	c.Env = append(c.Env, corev1.EnvVar{
		Name: completionIndexEnv,
		ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
			FieldPath: fmt.Sprintf("metadata.labels['%s']", batchv1.JobCompletionIndexAnnotation),
		}},
	})
}

// removeFinalizer drops the tracking finalizer from pod; a pod that is gone
// already counts as done.
func (c *Controller) removeFinalizer(ctx context.Context, pod *corev1.Pod) error {
	if !hasTrackingFinalizer(pod) {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{
			"$deleteFromPrimitiveList/finalizers": []string{batchv1.JobTrackingFinalizer},
		},
	})
	_, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing tracking finalizer from pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
