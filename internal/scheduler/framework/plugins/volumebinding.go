package plugins

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	storagehelpers "k8s.io/component-helpers/storage/volume"

	"skiff.dev/skiff/internal/scheduler/framework"
)

// VolumeBinding's reasons, as kube-scheduler words them.
const (
	ReasonVolumeNodeAffinityConflict = "node(s) had volume node affinity conflict"
	ReasonUnboundImmediateClaims     = "pod has unbound immediate PersistentVolumeClaims"
)

const volumeBindingKey framework.StateKey = "VolumeBinding"

// VolumeBinding places pods with PersistentVolumeClaims, the part of
// kube-scheduler's plugin skiff implements: a claim bound to a volume with
// nodeAffinity (a local volume) admits only the nodes that affinity
// selects; an unbound claim whose class binds WaitForFirstConsumer admits
// every node, and is to be provisioned on the node chosen (the scheduler
// writes it to the claim's volume.kubernetes.io/selected-node annotation
// and waits for the claim to be bound before binding the pod). A missing
// claim, one being deleted, or an unbound claim of a class that binds
// Immediately makes the pod unschedulable until it changes. Unbound
// WaitForFirstConsumer claims are not matched to existing volumes: their
// class's provisioner makes one.
type VolumeBinding struct {
	Claims  corelisters.PersistentVolumeClaimLister
	Volumes corelisters.PersistentVolumeLister
	Classes storagelisters.StorageClassLister
}

// PodVolumes is what PreFilter found of a pod's claims.
type PodVolumes struct {
	// Bound are the volumes of the pod's bound claims.
	Bound []*corev1.PersistentVolume
	// Delayed are the unbound claims whose class waits for the first
	// consumer: the chosen node is written to them.
	Delayed []*corev1.PersistentVolumeClaim
}

// Name returns kube-scheduler's name of the plugin.
func (VolumeBinding) Name() string { return "VolumeBinding" }

// ClaimNames returns the names of the claims pod uses: its
// persistentVolumeClaim volumes and the claims of its ephemeral volumes
// (<pod>-<volume>).
func ClaimNames(pod *corev1.Pod) []string {
	var names []string
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		switch {
		case v.PersistentVolumeClaim != nil:
			names = append(names, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			names = append(names, pod.Name+"-"+v.Name)
		}
	}
	return names
}

// PreFilter reads the pod's claims and their volumes; a pod without claims
// skips the plugin.
func (v VolumeBinding) PreFilter(_ context.Context, state *framework.CycleState, pi *framework.PodInfo) *framework.Status {
	names := ClaimNames(pi.Pod)
	if len(names) == 0 {
		return statusSkip
	}
	pvs, st := v.podVolumes(pi.Pod.Namespace, names)
	if st != nil {
		return st
	}
	state.Write(volumeBindingKey, pvs)
	return nil
}

func (v VolumeBinding) podVolumes(ns string, names []string) (*PodVolumes, *framework.Status) {
	out := &PodVolumes{}
	for _, name := range names {
		claim, err := v.Claims.PersistentVolumeClaims(ns).Get(name)
		if apierrors.IsNotFound(err) {
			return nil, framework.NewStatus(framework.Unschedulable, fmt.Sprintf("persistentvolumeclaim %q not found", name))
		}
		if err != nil {
			return nil, framework.AsStatus(err)
		}
		var class *storagev1.StorageClass
		if c := storagehelpers.GetPersistentVolumeClaimClass(claim); c != "" && claim.Spec.VolumeName == "" {
			class, err = v.Classes.Get(c)
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, framework.AsStatus(err)
			}
		}
		var pv *corev1.PersistentVolume
		if claim.Spec.VolumeName != "" {
			pv, err = v.Volumes.Get(claim.Spec.VolumeName)
			if apierrors.IsNotFound(err) {
				return nil, framework.NewStatus(framework.Unschedulable,
					fmt.Sprintf("persistentvolume %q bound to persistentvolumeclaim %q not found", claim.Spec.VolumeName, name))
			}
			if err != nil {
				return nil, framework.AsStatus(err)
			}
		}
		switch kind, reason := ClassifyClaim(claim, class, pv); kind {
		case ClaimUnusable:
			return nil, framework.NewStatus(framework.Unschedulable, reason)
		case ClaimBound:
			out.Bound = append(out.Bound, pv)
		case ClaimDelayed:
			out.Delayed = append(out.Delayed, claim)
		}
	}
	return out, nil
}

// ClaimKind is how a pod's claim takes part in placing the pod.
type ClaimKind int

const (
	// ClaimUnusable: the pod cannot be placed while the claim is so.
	ClaimUnusable ClaimKind = iota
	// ClaimBound: the claim's volume (its nodeAffinity) decides the nodes.
	ClaimBound
	// ClaimDelayed: unbound, waiting for its first consumer's node.
	ClaimDelayed
)

// ClassifyClaim decides how claim (of class, nil when the claim names none
// or it does not exist; bound to pv, nil when unbound) takes part in placing
// a pod, with the reason when it is unusable.
func ClassifyClaim(claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, pv *corev1.PersistentVolume) (ClaimKind, string) {
	switch {
	case claim.DeletionTimestamp != nil:
		return ClaimUnusable, fmt.Sprintf("persistentvolumeclaim %q is being deleted", claim.Name)
	case claim.Spec.VolumeName != "" && pv != nil:
		return ClaimBound, ""
	case claim.Spec.VolumeName != "":
		return ClaimUnusable, fmt.Sprintf("persistentvolume %q bound to persistentvolumeclaim %q not found", claim.Spec.VolumeName, claim.Name)
	case class != nil && class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer:
		return ClaimDelayed, ""
	}
	return ClaimUnusable, ReasonUnboundImmediateClaims
}

// Filter fails a node that a bound volume's nodeAffinity does not select.
func (v VolumeBinding) Filter(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	raw, ok := state.Read(volumeBindingKey)
	if !ok {
		return nil
	}
	for _, pv := range raw.(*PodVolumes).Bound {
		if err := storagehelpers.CheckNodeAffinity(pv, n.Node().Labels); err != nil {
			return framework.NewStatus(framework.Unschedulable, ReasonVolumeNodeAffinityConflict)
		}
	}
	return nil
}

// DelayedClaims returns the pod's unbound WaitForFirstConsumer claims, to
// be given the chosen node before the pod is bound.
func (v VolumeBinding) DelayedClaims(pod *corev1.Pod) ([]*corev1.PersistentVolumeClaim, error) {
	names := ClaimNames(pod)
	if len(names) == 0 {
		return nil, nil
	}
	pvs, st := v.podVolumes(pod.Namespace, names)
	if st != nil {
		return nil, st.AsError()
	}
	return pvs.Delayed, nil
}
