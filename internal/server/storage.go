package server

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	storageutil "k8s.io/kubernetes/pkg/apis/storage/util"

	"skiff.dev/skiff/internal/wellknown"
)

// defaultStorageClass is the class the server creates at start: local-path,
// the default, provisioned by skiff's local-path provisioner on the node the
// first pod using a claim lands on, and deleted with its claim.
func defaultStorageClass() *storagev1.StorageClass {
	reclaim := corev1.PersistentVolumeReclaimDelete
	binding := storagev1.VolumeBindingWaitForFirstConsumer
	return &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        wellknown.LocalPathStorageClass,
			Annotations: map[string]string{storageutil.IsDefaultStorageClassAnnotation: "true"},
		},
		Provisioner:       wellknown.LocalPathProvisioner,
		ReclaimPolicy:     &reclaim,
		VolumeBindingMode: &binding,
	}
}

// ensureDefaultStorageClass creates the local-path StorageClass when it does
// not exist; one that exists is the administrator's to change (a class's
// provisioner and policies cannot be updated anyway).
func ensureDefaultStorageClass(ctx context.Context, loopback *rest.Config) error {
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return fmt.Errorf("default StorageClass: %w", err)
	}
	sc := defaultStorageClass()
	_, err = client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create storageclass %s: %w", sc.Name, err)
	}
	return nil
}
