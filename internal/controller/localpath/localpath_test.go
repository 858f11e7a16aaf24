package localpath

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	storagehelpers "k8s.io/component-helpers/storage/volume"

	"skiff.dev/skiff/internal/wellknown"
)

func claim(mut func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "data", UID: "u1", ResourceVersion: "7", Annotations: map[string]string{
			storagehelpers.AnnStorageProvisioner: wellknown.LocalPathProvisioner,
			storagehelpers.AnnSelectedNode:       "n1",
		}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if mut != nil {
		mut(c)
	}
	return c
}

func TestWantsProvisioning(t *testing.T) {
	now := metav1.NewTime(time.Now())
	tests := []struct {
		name  string
		claim *corev1.PersistentVolumeClaim
		want  bool
	}{
		{"marked and placed", claim(nil), true},
		{"beta annotation", claim(func(c *corev1.PersistentVolumeClaim) {
			delete(c.Annotations, storagehelpers.AnnStorageProvisioner)
			c.Annotations[storagehelpers.AnnBetaStorageProvisioner] = wellknown.LocalPathProvisioner
		}), true},
		{"no node chosen yet", claim(func(c *corev1.PersistentVolumeClaim) { delete(c.Annotations, storagehelpers.AnnSelectedNode) }), false},
		{"another provisioner's", claim(func(c *corev1.PersistentVolumeClaim) {
			c.Annotations[storagehelpers.AnnStorageProvisioner] = "ebs.csi.aws.com"
		}), false},
		{"bound", claim(func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv" }), false},
		{"being deleted", claim(func(c *corev1.PersistentVolumeClaim) { c.DeletionTimestamp = &now }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WantsProvisioning(tt.claim); got != tt.want {
				t.Fatalf("WantsProvisioning = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVolume(t *testing.T) {
	retain := corev1.PersistentVolumeReclaimRetain
	class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-path"}, Provisioner: wellknown.LocalPathProvisioner}
	retainClass := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "keep"}, Provisioner: wellknown.LocalPathProvisioner, ReclaimPolicy: &retain}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{corev1.LabelHostname: "host1"},
		Annotations: map[string]string{wellknown.LocalPathRootAnnotation: "/var/lib/skiff/agent/storage"}}}
	bare := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	block := corev1.PersistentVolumeBlock

	pv, err := Volume(claim(nil), class, node)
	if err != nil {
		t.Fatal(err)
	}
	if pv.Name != "pvc-u1" || pv.Spec.Local.Path != "/var/lib/skiff/agent/storage/pvc-u1" ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || pv.Spec.StorageClassName != "local-path" ||
		pv.Annotations[storagehelpers.AnnDynamicallyProvisioned] != wellknown.LocalPathProvisioner {
		t.Fatalf("volume: %+v", pv)
	}
	if ref := pv.Spec.ClaimRef; ref.Namespace != "ns" || ref.Name != "data" || ref.UID != "u1" {
		t.Fatalf("claimRef: %+v", ref)
	}
	if q := pv.Spec.Capacity[corev1.ResourceStorage]; q.String() != "1Gi" {
		t.Fatalf("capacity %s", q.String())
	}
	if err := storagehelpers.CheckNodeAffinity(pv, node.Labels); err != nil {
		t.Fatalf("the volume's node does not match its affinity: %v", err)
	}
	if err := storagehelpers.CheckNodeAffinity(pv, map[string]string{corev1.LabelHostname: "host2"}); err == nil {
		t.Fatal("another node matches the volume's affinity")
	}
	if pv, _ := Volume(claim(nil), retainClass, node); pv.Spec.PersistentVolumeReclaimPolicy != retain {
		t.Fatalf("reclaim policy %s, want Retain", pv.Spec.PersistentVolumeReclaimPolicy)
	}

	for name, tt := range map[string]struct {
		claim *corev1.PersistentVolumeClaim
		node  *corev1.Node
		err   string
	}{
		"node without root": {claim(nil), bare, "publishes no local-path root"},
		"block":             {claim(func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeMode = &block }), node, "volumeMode Block"},
		"selector":          {claim(func(c *corev1.PersistentVolumeClaim) { c.Spec.Selector = &metav1.LabelSelector{} }), node, "Selector"},
		"no size":           {claim(func(c *corev1.PersistentVolumeClaim) { c.Spec.Resources.Requests = nil }), node, "requests no storage"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Volume(tt.claim, class, tt.node); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestShouldDelete(t *testing.T) {
	now := metav1.NewTime(time.Now())
	pv := func(mut func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
		p := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "pvc-1", Annotations: map[string]string{storagehelpers.AnnDynamicallyProvisioned: wellknown.LocalPathProvisioner}},
			Spec:       corev1.PersistentVolumeSpec{PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete},
			Status:     corev1.PersistentVolumeStatus{Phase: corev1.VolumeReleased},
		}
		if mut != nil {
			mut(p)
		}
		return p
	}
	tests := []struct {
		name string
		pv   *corev1.PersistentVolume
		want bool
	}{
		{"released, Delete", pv(nil), true},
		{"released, Retain", pv(func(p *corev1.PersistentVolume) {
			p.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
		}), false},
		{"bound", pv(func(p *corev1.PersistentVolume) { p.Status.Phase = corev1.VolumeBound }), false},
		{"another provisioner's", pv(func(p *corev1.PersistentVolume) { p.Annotations = nil }), false},
		{"already deleted", pv(func(p *corev1.PersistentVolume) { p.DeletionTimestamp = &now }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ShouldDelete(tt.pv); got != tt.want {
				t.Fatalf("ShouldDelete = %v, want %v", got, tt.want)
			}
		})
	}
}
