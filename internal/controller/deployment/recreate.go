package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff.dev/skiff/internal/controller/podutil"
)

// rolloutRecreate scales every old ReplicaSet to zero, waits until none of
// their pods runs, then scales the new ReplicaSet up.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.allReplicaSets(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)

	scaledDown := false
	for _, rs := range active(oldRSs) {
		scaled, _, err := c.scaleAndRecord(ctx, rs, 0, d)
		if err != nil {
			return err
		}
		scaledDown = scaledDown || scaled
	}
	if scaledDown {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	running, err := c.oldPodsRunning(d, newRS, oldRSs, rsList)
	if err != nil {
		return err
	}
	if running {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if newRS == nil {
		if newRS, oldRSs, err = c.allReplicaSets(ctx, d, rsList, true); err != nil {
			return err
		}
		all = append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)
	}
	if _, _, err := c.scaleAndRecord(ctx, newRS, replicasOf(d), d); err != nil {
		return err
	}
	if deploymentComplete(d, &d.Status) {
		c.cleanup(ctx, d, oldRSs)
	}
	return c.syncRolloutStatus(ctx, all, newRS, d)
}

// oldPodsRunning reports whether an old ReplicaSet still has pods, or a
// pod of one of d's ReplicaSets other than the new one has not finished.
func (c *Controller) oldPodsRunning(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs, rsList []*appsv1.ReplicaSet) (bool, error) {
	if statusReplicas(oldRSs) > 0 {
		return true, nil
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return false, errorf(d, "invalid selector: %w", err)
	}
	pods, err := c.pods.Pods(d.Namespace).List(selector)
	if err != nil {
		return false, errorf(d, "listing pods: %w", err)
	}
	owners := map[types.UID]bool{}
	for _, rs := range rsList {
		if newRS == nil || rs.UID != newRS.UID {
			owners[rs.UID] = true
		}
	}
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		if ref == nil || !owners[ref.UID] {
			continue
		}
		if !podutil.IsTerminal(p) {
			return true, nil
		}
	}
	return false, nil
}
