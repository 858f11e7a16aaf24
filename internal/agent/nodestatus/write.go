package nodestatus

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Desired computes a node's status from the one the server has.
type Desired func(old *corev1.NodeStatus) corev1.NodeStatus

// Adopt takes over a Node object that already exists (a node that
// registers again, after a restart): merge brings want's labels, taints
// and the like into the stored object, which is updated only when that
// changed anything, then the status is written with a fresh heartbeat.
func Adopt(ctx context.Context, nodes typedcorev1.NodeInterface, name string, merge func(upd *corev1.Node), desired Desired, now metav1.Time) (*corev1.Node, error) {
	existing, err := nodes.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	upd := existing.DeepCopy()
	merge(upd)
	if !apiequality.Semantic.DeepEqual(upd.ObjectMeta, existing.ObjectMeta) || !apiequality.Semantic.DeepEqual(upd.Spec, existing.Spec) {
		if upd, err = nodes.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return nil, err
		}
	}
	upd.Status = desired(&upd.Status)
	SetHeartbeat(&upd.Status, now)
	return nodes.UpdateStatus(ctx, upd, metav1.UpdateOptions{})
}

// WriteStatus writes the desired status of cur when it differs from the
// stored one, or always when due (the periodic report). On a conflict it
// reads the node again and retries, at most retries times. It reports
// whether it wrote.
func WriteStatus(ctx context.Context, nodes typedcorev1.NodeInterface, cur *corev1.Node, due bool, desired Desired, now metav1.Time, retries int) (bool, error) {
	name := cur.Name
	for attempt := 0; ; attempt++ {
		want := desired(&cur.Status)
		if !due && apiequality.Semantic.DeepEqual(want, cur.Status) {
			return false, nil
		}
		upd := cur.DeepCopy()
		upd.Status = want
		SetHeartbeat(&upd.Status, now)
		_, err := nodes.UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		if err == nil {
			return true, nil
		}
		if !apierrors.IsConflict(err) || attempt >= retries {
			return false, fmt.Errorf("update status of node %s: %w", name, err)
		}
		if cur, err = nodes.Get(ctx, name, metav1.GetOptions{}); err != nil {
			return false, fmt.Errorf("node %s: %w", name, err)
		}
	}
}
