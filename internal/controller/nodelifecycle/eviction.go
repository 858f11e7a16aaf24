package nodelifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// DisruptionTarget condition the taint manager sets before it deletes.
const (
	reasonDeletionByTaintManager = "DeletionByTaintManager"
	messageDeletionByTaint       = "Taint manager: deleting due to NoExecute taint"
)

// evictionTime says when a pod must leave a node with the given NoExecute
// taints: now (true, zero) when a taint is not tolerated, after the smallest
// tolerationSeconds of the tolerations used counted from the taints' time
// added (true, t), or never (false).
func evictionTime(log logr.Logger, pod *corev1.Pod, taints []corev1.Taint, now time.Time) (time.Time, bool) {
	var latestAdded time.Time
	minSeconds := int64(-1) // -1: tolerated forever
	found := false
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		found = true
		if t.TimeAdded != nil && t.TimeAdded.After(latestAdded) {
			latestAdded = t.TimeAdded.Time
		}
		tolerated := false
		for j := range pod.Spec.Tolerations {
			tol := &pod.Spec.Tolerations[j]
			if !tol.ToleratesTaint(log, t, false) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds != nil {
				s := max(*tol.TolerationSeconds, 0)
				if minSeconds < 0 || s < minSeconds {
					minSeconds = s
				}
			}
		}
		if !tolerated {
			return time.Time{}, true
		}
	}
	if !found || minSeconds < 0 {
		return time.Time{}, false
	}
	if latestAdded.IsZero() {
		latestAdded = now
	}
	return latestAdded.Add(time.Duration(minSeconds) * time.Second), true
}

// syncPod evicts the pod when its node's NoExecute taints call for it, or
// returns when to look again.
func (c *Controller) syncPod(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	pod, err := c.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.unschedule(key, nil)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if pod.DeletionTimestamp != nil || pod.Spec.NodeName == "" {
		c.unschedule(key, nil)
		return 0, nil
	}
	node, err := c.nodeLister.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		c.unschedule(key, pod)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	now := c.opts.Clock.Now()
	at, evict := evictionTime(logr.FromSlogHandler(c.log.Handler()), pod, node.Spec.Taints, now)
	if !evict {
		c.unschedule(key, pod)
		return 0, nil
	}
	if at.After(now) {
		c.mu.Lock()
		c.scheduled[key] = at
		c.mu.Unlock()
		return at.Sub(now), nil
	}
	if err := c.evict(ctx, pod); err != nil {
		return 0, err
	}
	c.mu.Lock()
	delete(c.scheduled, key)
	c.mu.Unlock()
	return 0, nil
}

// unschedule drops a planned eviction; when pod is given, the cancellation
// is recorded on it.
func (c *Controller) unschedule(key string, pod *corev1.Pod) {
	c.mu.Lock()
	_, planned := c.scheduled[key]
	delete(c.scheduled, key)
	c.mu.Unlock()
	if planned && pod != nil {
		c.recorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Cancelling deletion of Pod %s", key)
	}
}

// evict marks the pod as a disruption target, then deletes it.
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod) error {
	key := pod.Namespace + "/" + pod.Name
	c.recorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s", key)
	if err := c.addDisruptionTarget(ctx, pod); err != nil {
		return err
	}
	uid := pod.UID
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pod %s: %w", key, err)
	}
	c.log.Info("evicted pod from tainted node", "pod", key, "node", pod.Spec.NodeName)
	return nil
}

func (c *Controller) addDisruptionTarget(ctx context.Context, pod *corev1.Pod) error {
	for i := range pod.Status.Conditions {
		cnd := pod.Status.Conditions[i]
		if cnd.Type == corev1.DisruptionTarget && cnd.Status == corev1.ConditionTrue && cnd.Reason == reasonDeletionByTaintManager {
			return nil
		}
	}
	upd := pod.DeepCopy()
	cond := corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: reasonDeletionByTaintManager, Message: messageDeletionByTaint,
		LastTransitionTime: metav1.NewTime(c.opts.Clock.Now()),
	}
	replaced := false
	for i := range upd.Status.Conditions {
		if upd.Status.Conditions[i].Type == corev1.DisruptionTarget {
			upd.Status.Conditions[i], replaced = cond, true
		}
	}
	if !replaced {
		upd.Status.Conditions = append(upd.Status.Conditions, cond)
	}
	_, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mark pod %s/%s as disruption target: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
