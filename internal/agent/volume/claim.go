package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	storagehelpers "k8s.io/component-helpers/storage/volume"

	"skiff.dev/skiff/internal/wellknown"
)

// claimPath resolves a pod's claim to the host directory of its volume:
// claim -> bound PersistentVolume -> spec.local.path or spec.hostPath.path.
// The directory of a local-path volume is made here, the first time a pod
// mounts it; any other volume's directory must exist (hostPath volumes
// keep their type check).
func (m *Manager) claimPath(ctx context.Context, namespace, claimName string) (string, error) {
	claim, err := m.client.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, claimName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("error processing PVC %s/%s: %w", namespace, claimName, err)
	}
	if claim.Status.Phase != corev1.ClaimBound || claim.Spec.VolumeName == "" {
		return "", fmt.Errorf("PVC %s/%s is not bound", namespace, claimName)
	}
	pv, err := m.client.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("error processing PVC %s/%s: %w", namespace, claimName, err)
	}
	return VolumePath(m.LocalPathRoot, pv, claim)
}

// VolumePath returns the host path of pv for claim, making the directory of
// a local-path volume (one the provisioner made under root, this node's
// local-path root), and checking the volume is bound to the claim.
func VolumePath(root string, pv *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) (string, error) {
	if ref := pv.Spec.ClaimRef; ref == nil || ref.Namespace != claim.Namespace || ref.Name != claim.Name || (ref.UID != "" && ref.UID != claim.UID) {
		return "", fmt.Errorf("persistentvolume %q is not bound to claim %s/%s", pv.Name, claim.Namespace, claim.Name)
	}
	src := &pv.Spec.PersistentVolumeSource
	switch {
	case src.HostPath != nil:
		return src.HostPath.Path, checkHostPath(src.HostPath)
	case src.Local != nil:
		path := src.Local.Path
		if isLocalPathVolume(root, pv) {
			// World-writable, as k3s' local-path volumes: the pod may run
			// as any user.
			if err := os.MkdirAll(path, 0o777); err != nil {
				return "", fmt.Errorf("create local-path volume directory: %w", err)
			}
			if err := os.Chmod(path, 0o777); err != nil {
				return "", fmt.Errorf("local-path volume directory: %w", err)
			}
			return path, nil
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("path %q does not exist", path)
		} else if err != nil {
			return "", err
		}
		return path, nil
	}
	return "", fmt.Errorf("persistentvolume %q: only local and hostPath volumes can be mounted on this node", pv.Name)
}

// RemoveLocalPath removes the directory of a deleted local-path volume that
// lives under root (the node's local-path root) and had reclaimPolicy
// Delete; it reports whether it removed anything. Other volumes are left
// alone (Retain keeps the data even once its PV is deleted by hand).
func RemoveLocalPath(root string, pv *corev1.PersistentVolume) (bool, error) {
	if !ShouldRemoveLocalPath(root, pv) {
		return false, nil
	}
	if err := os.RemoveAll(pv.Spec.Local.Path); err != nil {
		return false, fmt.Errorf("remove local-path volume %s: %w", pv.Name, err)
	}
	return true, nil
}

// ShouldRemoveLocalPath decides whether the directory of the deleted pv is
// to be removed from this node, whose local-path root is root.
func ShouldRemoveLocalPath(root string, pv *corev1.PersistentVolume) bool {
	return isLocalPathVolume(root, pv) && pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete
}

// isLocalPathVolume tells whether pv is a volume of this node's local-path
// provisioner: provisioned by it, in the directory it names under root. Only
// those directories are made, opened to every user and removed by the node;
// a volume naming another path (anyone who may create PersistentVolumes can
// write any annotation) is left as it is.
func isLocalPathVolume(root string, pv *corev1.PersistentVolume) bool {
	src := pv.Spec.Local
	return src != nil && root != "" &&
		pv.Annotations[storagehelpers.AnnDynamicallyProvisioned] == wellknown.LocalPathProvisioner &&
		src.Path == root+string(os.PathSeparator)+pv.Name
}
