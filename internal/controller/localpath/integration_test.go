//go:build integration

package localpath_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/controller/volume/persistentvolume"
	"k8s.io/kubernetes/pkg/controller/volume/pvcprotection"
	"k8s.io/kubernetes/pkg/controller/volume/pvprotection"

	"skiff.dev/skiff/internal/controller/localpath"
	"skiff.dev/skiff/internal/testserver"
	"skiff.dev/skiff/internal/wellknown"
)

// TestStorageAPI: Kubernetes' validation (422 naming the field), defaults,
// the default class and the protection finalizers on the served kinds.
func TestStorageAPI(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx, c := context.Background(), s.Client

	_, err := c.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: corev1.PersistentVolumeSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.capacity") {
		t.Fatalf("PV without capacity: %v, want 422 naming spec.capacity", err)
	}
	pv, err := c.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "good"},
		Spec: corev1.PersistentVolumeSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pv.Status.Phase != corev1.VolumePending || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain ||
		pv.Spec.VolumeMode == nil || !contains(pv.Finalizers, "kubernetes.io/pv-protection") {
		t.Fatalf("created PV: phase %q, reclaim %q, mode %v, finalizers %v", pv.Status.Phase, pv.Spec.PersistentVolumeReclaimPolicy, pv.Spec.VolumeMode, pv.Finalizers)
	}

	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	if _, err := c.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: "local-path", Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner: wellknown.LocalPathProvisioner, VolumeBindingMode: &wffc,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "noprov"}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provisioner") {
		t.Fatalf("class without provisioner: %v, want 422 naming provisioner", err)
	}
	sc, err := c.StorageV1().StorageClasses().Get(ctx, "local-path", metav1.GetOptions{})
	if err != nil || sc.ReclaimPolicy == nil || *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		t.Fatalf("class defaults: %v %v", sc, err)
	}
	testserver.Poll(t, 10*time.Second, "the default class reaches the admission", func() error {
		pvc, err := c.CoreV1().PersistentVolumeClaims("default").Create(ctx, newClaim("probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "local-path" {
			return fmt.Errorf("storageClassName %v", pvc.Spec.StorageClassName)
		}
		return nil
	})
	pvc, err := c.CoreV1().PersistentVolumeClaims("default").Create(ctx, newClaim("data"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !contains(pvc.Finalizers, "kubernetes.io/pvc-protection") || pvc.Spec.VolumeMode == nil || *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Fatalf("created claim: finalizers %v, volumeMode %v", pvc.Finalizers, pvc.Spec.VolumeMode)
	}
	// The spec is immutable once created, but for the requested size.
	pvc.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
	if _, err := c.CoreV1().PersistentVolumeClaims("default").Update(ctx, pvc, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("changing a claim's access modes: %v, want 422", err)
	}
}

// TestLocalPathProvisioning: with Kubernetes' PV controller and the
// protection controllers, a WaitForFirstConsumer claim is provisioned on
// the node the scheduler selected and bound; deleting it deletes the
// volume (Delete) or leaves it Released (Retain).
func TestLocalPathProvisioning(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := s.Client
	factory := informers.NewSharedInformerFactory(c, 0)
	core := factory.Core().V1()
	logger := logr.Discard()
	binder, err := persistentvolume.NewController(klog.NewContext(ctx, logger), persistentvolume.ControllerParameters{
		KubeClient: c, SyncPeriod: time.Second, VolumeInformer: core.PersistentVolumes(), ClaimInformer: core.PersistentVolumeClaims(),
		ClassInformer: factory.Storage().V1().StorageClasses(), PodInformer: core.Pods(), NodeInformer: core.Nodes(), EnableDynamicProvisioning: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	pvcProt, err := pvcprotection.NewPVCProtectionController(logger, core.PersistentVolumeClaims(), core.Pods(), c)
	if err != nil {
		t.Fatal(err)
	}
	pvProt, err := pvprotection.NewPVProtectionController(logger, core.PersistentVolumes(), c)
	if err != nil {
		t.Fatal(err)
	}
	prov := localpath.New(c, factory, record.NewFakeRecorder(100), localpath.Options{})
	factory.Start(ctx.Done())
	go binder.Run(klog.NewContext(ctx, logger))
	go pvcProt.Run(ctx, 1)
	go pvProt.Run(ctx, 1)
	go prov.Run(ctx)

	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	retain := corev1.PersistentVolumeReclaimRetain
	for _, sc := range []*storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "local-path"}, Provisioner: wellknown.LocalPathProvisioner, VolumeBindingMode: &wffc},
		{ObjectMeta: metav1.ObjectMeta{Name: "keep"}, Provisioner: wellknown.LocalPathProvisioner, VolumeBindingMode: &wffc, ReclaimPolicy: &retain},
	} {
		if _, err := c.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1",
		Labels:      map[string]string{corev1.LabelHostname: "n1"},
		Annotations: map[string]string{wellknown.LocalPathRootAnnotation: "/var/lib/skiff/agent/storage"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	provision := func(name, class string) *corev1.PersistentVolume {
		t.Helper()
		claim := newClaim(name)
		claim.Spec.StorageClassName = &class
		if _, err := c.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Without a consumer it waits.
		testserver.Poll(t, 10*time.Second, "WaitForFirstConsumer event", func() error {
			evs, err := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
			if err != nil {
				return err
			}
			for _, e := range evs.Items {
				if e.Reason == "WaitForFirstConsumer" {
					return nil
				}
			}
			return errors.New("no WaitForFirstConsumer event")
		})
		claim, err := c.CoreV1().PersistentVolumeClaims("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if claim.Status.Phase != corev1.ClaimPending {
			t.Fatalf("claim without a consumer is %s", claim.Status.Phase)
		}
		// What the scheduler does once it placed a pod using the claim.
		if claim.Annotations == nil {
			claim.Annotations = map[string]string{}
		}
		claim.Annotations["volume.kubernetes.io/selected-node"] = "n1"
		if _, err := c.CoreV1().PersistentVolumeClaims("default").Update(ctx, claim, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		var pv *corev1.PersistentVolume
		testserver.Poll(t, 20*time.Second, "claim "+name+" Bound", func() error {
			got, err := c.CoreV1().PersistentVolumeClaims("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got.Status.Phase != corev1.ClaimBound {
				return fmt.Errorf("phase %s", got.Status.Phase)
			}
			pv, err = c.CoreV1().PersistentVolumes().Get(ctx, got.Spec.VolumeName, metav1.GetOptions{})
			return err
		})
		if pv.Name != "pvc-"+string(claim.UID) || pv.Spec.Local == nil || pv.Spec.Local.Path != "/var/lib/skiff/agent/storage/"+pv.Name ||
			pv.Status.Phase != corev1.VolumeBound {
			t.Fatalf("provisioned volume: %s %+v %+v", pv.Name, pv.Spec, pv.Status)
		}
		return pv
	}

	pv := provision("data", "local-path")
	if err := c.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "volume deleted with its claim", func() error {
		_, err := c.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("volume still there: %v", err)
	})

	kept := provision("kept", "keep")
	if err := c.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "kept", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 30*time.Second, "retained volume Released", func() error {
		got, err := c.CoreV1().PersistentVolumes().Get(ctx, kept.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.Phase != corev1.VolumeReleased {
			return fmt.Errorf("phase %s", got.Status.Phase)
		}
		return nil
	})
}

func newClaim(name string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		}}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
