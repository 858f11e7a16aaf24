package nodestatus

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// LeaseNamespace is the namespace of the Node Leases.
const LeaseNamespace = "kube-node-lease"

// RenewLease renews the Lease of the Node name (of UID uid) in
// LeaseNamespace, setting its renewTime to now. prev is the Lease the last
// successful call returned, or nil: it is updated in place on the server.
// Without prev, or when that update conflicts or finds no Lease, the Lease
// is created with the node as holder and owner and a duration of duration
// (in whole seconds); if one of the name exists already, it is taken over
// (owner, holder, duration and renewTime set). RenewLease returns the Lease
// written, to be passed as prev next time; on error the caller keeps prev.
func RenewLease(ctx context.Context, client kubernetes.Interface, prev *coordinationv1.Lease, name string, uid types.UID, duration time.Duration, now time.Time) (*coordinationv1.Lease, error) {
	leases := client.CoordinationV1().Leases(LeaseNamespace)
	if prev != nil {
		l := prev.DeepCopy()
		l.Spec.RenewTime = &metav1.MicroTime{Time: now}
		lease, err := leases.Update(ctx, l, metav1.UpdateOptions{})
		if err == nil {
			return lease, nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("renew lease %s/%s: %w", LeaseNamespace, name, err)
		}
	}
	want := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: LeaseNamespace,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: name, UID: uid,
			}},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(name),
			LeaseDurationSeconds: ptr.To(int32(duration / time.Second)),
			RenewTime:            &metav1.MicroTime{Time: now},
		},
	}
	lease, err := leases.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		var cur *coordinationv1.Lease
		if cur, err = leases.Get(ctx, name, metav1.GetOptions{}); err == nil {
			cur.OwnerReferences = want.OwnerReferences
			cur.Spec.HolderIdentity = want.Spec.HolderIdentity
			cur.Spec.LeaseDurationSeconds = want.Spec.LeaseDurationSeconds
			cur.Spec.RenewTime = want.Spec.RenewTime
			lease, err = leases.Update(ctx, cur, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("renew lease %s/%s: %w", LeaseNamespace, name, err)
	}
	return lease, nil
}
