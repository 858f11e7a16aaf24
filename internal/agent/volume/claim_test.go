package volume

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	storagehelpers "k8s.io/component-helpers/storage/volume"

	"skiff.dev/skiff/internal/wellknown"
)

func localPathPV(name, root string, reclaim corev1.PersistentVolumeReclaimPolicy, claim *corev1.PersistentVolumeClaim) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{storagehelpers.AnnDynamicallyProvisioned: wellknown.LocalPathProvisioner}},
		Spec: corev1.PersistentVolumeSpec{
			PersistentVolumeReclaimPolicy: reclaim,
			ClaimRef:                      &corev1.ObjectReference{Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: filepath.Join(root, name)}},
		},
	}
}

func TestSetupClaim(t *testing.T) {
	root := t.TempDir()
	bound := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "data", UID: "u1"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pvc-u1"}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
	pending := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "pending"},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}
	other := bound.DeepCopy()
	other.Name, other.UID, other.Spec.VolumeName = "other", "u2", "pvc-u1" // claims a volume bound elsewhere
	pv := localPathPV("pvc-u1", root, corev1.PersistentVolumeReclaimDelete, bound)
	// A volume that says it is local-path but names a directory outside the
	// node's root (anyone who may create PersistentVolumes can say so).
	elsewhere := t.TempDir()
	if err := os.Chmod(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	outside := bound.DeepCopy()
	outside.Name, outside.UID, outside.Spec.VolumeName = "outside", "u3", "pvc-u3"
	outsidePV := localPathPV("pvc-u3", root, corev1.PersistentVolumeReclaimDelete, outside)
	outsidePV.Spec.Local.Path = elsewhere
	tests := []struct {
		claim, wantErr string
		wantPath       string
		wantMode       os.FileMode
	}{
		{claim: "data", wantPath: pv.Spec.Local.Path, wantMode: 0o777},
		{claim: "outside", wantPath: elsewhere, wantMode: 0o755},
		{claim: "pending", wantErr: "PVC prod/pending is not bound"},
		{claim: "missing", wantErr: `persistentvolumeclaims "missing" not found`},
		{claim: "other", wantErr: `persistentvolume "pvc-u1" is not bound to claim prod/other`},
	}
	for _, tt := range tests {
		t.Run(tt.claim, func(t *testing.T) {
			m := NewManager(fake.NewClientset(bound, pending, other, pv, outside, outsidePV), t.TempDir(), nil)
			m.LocalPathRoot = root
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "p", UID: "pod1"}, Spec: corev1.PodSpec{
				Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{
					PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: tt.claim}}}}}}
			paths, err := m.Setup(context.Background(), pod)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if paths["v"] != tt.wantPath {
				t.Fatalf("path = %q, want %q", paths["v"], tt.wantPath)
			}
			if fi, err := os.Stat(paths["v"]); err != nil || !fi.IsDir() || fi.Mode().Perm() != tt.wantMode {
				t.Fatalf("volume directory: %v %v", fi, err)
			}
			// Tearing the pod down leaves the volume's data alone.
			if err := os.WriteFile(filepath.Join(paths["v"], "f"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := m.Teardown(context.Background(), pod.UID); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(paths["v"], "f")); err != nil {
				t.Fatalf("data gone after teardown: %v", err)
			}
		})
	}
}

func TestShouldRemoveLocalPath(t *testing.T) {
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c"}}
	root := "/data/storage"
	del := localPathPV("pvc-1", root, corev1.PersistentVolumeReclaimDelete, claim)
	retain := localPathPV("pvc-1", root, corev1.PersistentVolumeReclaimRetain, claim)
	foreign := del.DeepCopy()
	foreign.Annotations = nil
	elsewhere := del.DeepCopy()
	elsewhere.Spec.Local.Path = "/other/pvc-1"
	renamed := del.DeepCopy()
	renamed.Spec.Local.Path = root + "/pvc-2"
	tests := []struct {
		name string
		pv   *corev1.PersistentVolume
		root string
		want bool
	}{
		{"delete", del, root, true},
		{"retain", retain, root, false},
		{"not local-path's", foreign, root, false},
		{"another node's root", elsewhere, root, false},
		{"path not the volume's name", renamed, root, false},
		{"no root", del, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ShouldRemoveLocalPath(tt.root, tt.pv); got != tt.want {
				t.Fatalf("ShouldRemoveLocalPath = %v, want %v", got, tt.want)
			}
		})
	}
}
