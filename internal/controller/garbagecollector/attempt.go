package garbagecollector

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff.dev/skiff/internal/controller/queue"
)

// attemptToDelete decides about one object of the graph: a virtual node
// is checked for existence, an owner deleting in the foreground is
// released once no dependent blocks it, and an object whose owners are all
// gone (or deleting their dependents) is deleted.
func (gc *Controller) attemptToDelete(ctx context.Context, ref objectRef) error {
	n, ok := gc.graph.get(ref.UID)
	if !ok {
		return nil
	}
	latest, err := gc.getObject(ctx, n.ref)
	if apierrors.IsNotFound(err) || err == nil && latest.UID != n.ref.UID {
		if n.virtual {
			// An ownerReference to nothing: its dependents are garbage.
			gc.graph.forget(n.ref.UID, true)
		}
		// An observed object's deletion reaches the graph through its informer.
		return nil
	}
	if err != nil {
		return err
	}
	if n.virtual {
		// It exists but no informer reported it (not watched, or not yet):
		// its dependents are safe; look again later.
		return queue.Retry(fmt.Errorf("%s exists but is not observed yet", n.ref))
	}

	if latest.DeletionTimestamp != nil {
		if !hasFinalizer(latest, metav1.FinalizerDeleteDependents) {
			return nil
		}
		return gc.processDeletingDependents(ctx, n, latest)
	}

	owners := latest.OwnerReferences
	if len(owners) == 0 {
		return nil
	}
	var solid, dangling, waiting []metav1.OwnerReference
	for _, o := range owners {
		ownerRef := objectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: latest.Namespace, Name: o.Name, UID: o.UID}
		owner, err := gc.getObject(ctx, ownerRef)
		switch {
		case apierrors.IsNotFound(err):
			dangling = append(dangling, o)
		case err != nil:
			return err
		case owner.UID != o.UID:
			dangling = append(dangling, o)
		case owner.DeletionTimestamp != nil && hasFinalizer(owner, metav1.FinalizerDeleteDependents):
			waiting = append(waiting, o)
		default:
			solid = append(solid, o)
		}
	}

	switch {
	case len(solid) > 0:
		if len(dangling)+len(waiting) == 0 {
			return nil
		}
		// Keep the live owners, drop the references to the others.
		gone := map[types.UID]bool{}
		for _, o := range append(dangling, waiting...) {
			gone[o.UID] = true
		}
		var keep []metav1.OwnerReference
		for _, o := range owners {
			if !gone[o.UID] {
				keep = append(keep, o)
			}
		}
		return gc.setOwnerReferences(ctx, n.ref, latest, keep)
	case len(waiting) > 0 && len(n.dependents) > 0:
		// The owners wait for this object, which will wait for its own
		// dependents. If one of those waits in turn, stop blocking the
		// owners so that a cycle cannot hold everything.
		for _, dep := range n.dependents {
			if dep.deletingDependents {
				unblock := make([]metav1.OwnerReference, len(owners))
				copy(unblock, owners)
				for i := range unblock {
					for _, w := range waiting {
						if unblock[i].UID == w.UID {
							f := false
							unblock[i].BlockOwnerDeletion = &f
						}
					}
				}
				if err := gc.setOwnerReferences(ctx, n.ref, latest, unblock); err != nil {
					return err
				}
				break
			}
		}
		return gc.deleteObject(ctx, n.ref, metav1.DeletePropagationForeground)
	default:
		policy := metav1.DeletePropagationBackground
		switch {
		case hasFinalizer(latest, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case hasFinalizer(latest, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		return gc.deleteObject(ctx, n.ref, policy)
	}
}

// processDeletingDependents handles an owner deleted in the foreground:
// while a dependent blocks it, the dependents are deleted; then the
// foregroundDeletion finalizer comes off.
func (gc *Controller) processDeletingDependents(ctx context.Context, n nodeView, latest *metav1.PartialObjectMetadata) error {
	blocking := 0
	for _, dep := range n.dependents {
		if !dep.blocking {
			continue
		}
		blocking++
		if !dep.deletingDependents {
			gc.deleteQueue.Add(dep.ref)
		}
	}
	if blocking > 0 {
		// Each dependent's deletion requeues the owner.
		return nil
	}
	return gc.removeFinalizer(ctx, n.ref, latest, metav1.FinalizerDeleteDependents)
}

// attemptToOrphan removes an owner being deleted with the orphan finalizer
// from its dependents' ownerReferences, then removes the finalizer.
func (gc *Controller) attemptToOrphan(ctx context.Context, ref objectRef) error {
	n, ok := gc.graph.get(ref.UID)
	if !ok {
		return nil
	}
	latest, err := gc.getObject(ctx, n.ref)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if latest.UID != n.ref.UID || latest.DeletionTimestamp == nil || !hasFinalizer(latest, metav1.FinalizerOrphanDependents) {
		return nil
	}
	for _, dep := range n.dependents {
		if err := gc.orphan(ctx, dep.ref, n.ref.UID); err != nil {
			return err
		}
	}
	return gc.removeFinalizer(ctx, n.ref, latest, metav1.FinalizerOrphanDependents)
}

// orphan removes the references to owner from the dependent.
func (gc *Controller) orphan(ctx context.Context, dep objectRef, owner types.UID) error {
	latest, err := gc.getObject(ctx, dep)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if latest.UID != dep.UID {
		return nil
	}
	var keep []metav1.OwnerReference
	for _, o := range latest.OwnerReferences {
		if o.UID != owner {
			keep = append(keep, o)
		}
	}
	if len(keep) == len(latest.OwnerReferences) {
		return nil
	}
	return gc.setOwnerReferences(ctx, dep, latest, keep)
}
