package core

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	storagehelpers "k8s.io/component-helpers/storage/volume"
	api "k8s.io/kubernetes/pkg/apis/core"
	k8sv1 "k8s.io/kubernetes/pkg/apis/core/v1"
	v1helper "k8s.io/kubernetes/pkg/apis/core/v1/helper"
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"

	"skiff.dev/skiff/internal/registry/store"
	"skiff.dev/skiff/internal/registry/upstream"
)

// PersistentVolume and PersistentVolumeClaim are validated by Kubernetes'
// own validation (k8s.io/kubernetes/pkg/apis/core/validation) on their
// internal forms, defaulted by its generated defaulters, and prepared as
// its registry does: a new PV starts Pending with its phase transition
// time, a new claim with an empty status.

func persistentVolumeKind() *store.Kind {
	newInternal := func() *api.PersistentVolume { return &api.PersistentVolume{} }
	return &store.Kind{
		Resource:       groupResource("persistentvolumes"),
		Kind:           "PersistentVolume",
		New:            func() runtime.Object { return &corev1.PersistentVolume{} },
		NewList:        func() runtime.Object { return &corev1.PersistentVolumeList{} },
		ShortNames:     []string{"pv"},
		NameValidation: corevalidation.ValidatePersistentVolumeName,
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return upstream.Validate(obj, newInternal, func(pv *api.PersistentVolume) field.ErrorList {
				return corevalidation.ValidatePersistentVolume(pv, corevalidation.ValidationOptionsForPersistentVolume(pv, nil))
			})
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return upstream.ValidateUpdate(obj, old, newInternal, func(pv, oldPV *api.PersistentVolume) field.ErrorList {
				return corevalidation.ValidatePersistentVolumeUpdate(pv, oldPV, corevalidation.ValidationOptionsForPersistentVolume(pv, oldPV))
			})
		},
		ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return upstream.ValidateUpdate(obj, old, newInternal, corevalidation.ValidatePersistentVolumeStatusUpdate)
		},
		PrepareForCreate: func(_ context.Context, obj runtime.Object) {
			pv := obj.(*corev1.PersistentVolume)
			now := metav1.Now()
			pv.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending, LastPhaseTransitionTime: &now}
		},
		PrepareForStatusUpdate: func(_ context.Context, obj, old runtime.Object) {
			pv, oldPV := obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume)
			pv.Status.LastPhaseTransitionTime = PhaseTransitionTime(pv.Status, oldPV.Status, metav1.Now())
		},
		SelectableFields: func(obj runtime.Object) fields.Set {
			return fields.Set{"name": obj.(*corev1.PersistentVolume).Name}
		},
		Columns: []metav1.TableColumnDefinition{
			col("Capacity", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["capacity"]),
			col("Access Modes", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["accessModes"]),
			col("Reclaim Policy", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["persistentVolumeReclaimPolicy"]),
			col("Status", "string", corev1.PersistentVolumeStatus{}.SwaggerDoc()["phase"]),
			col("Claim", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["claimRef"]),
			col("StorageClass", "string", "StorageClass of the pv"),
			col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
			col("Reason", "string", corev1.PersistentVolumeStatus{}.SwaggerDoc()["reason"]),
			store.AgeColumn,
			wideCol("VolumeMode", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["volumeMode"]),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			pv := obj.(*corev1.PersistentVolume)
			claim := ""
			if ref := pv.Spec.ClaimRef; ref != nil {
				claim = ref.Namespace + "/" + ref.Name
			}
			phase := string(pv.Status.Phase)
			if pv.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			size := pv.Spec.Capacity[corev1.ResourceStorage]
			return []interface{}{size.String(), v1helper.GetAccessModesAsString(pv.Spec.AccessModes),
				string(pv.Spec.PersistentVolumeReclaimPolicy), phase, claim, storagehelpers.GetPersistentVolumeClass(pv),
				unsetOr(pv.Spec.VolumeAttributesClassName), pv.Status.Reason, store.Age(pv.CreationTimestamp),
				volumeModeCell(pv.Spec.VolumeMode)}, nil
		},
	}
}

// PhaseTransitionTime is the status.lastPhaseTransitionTime a PV status
// update stores, as Kubernetes decides it: a phase change stamps now unless
// the writer set a new time itself; an unchanged phase keeps the old time
// when the writer sent none.
func PhaseTransitionTime(status, old corev1.PersistentVolumeStatus, now metav1.Time) *metav1.Time {
	switch {
	case status.Phase == old.Phase && status.LastPhaseTransitionTime == nil:
		return old.LastPhaseTransitionTime
	case status.Phase != old.Phase && (status.LastPhaseTransitionTime == nil || status.LastPhaseTransitionTime.Equal(old.LastPhaseTransitionTime)):
		return &now
	}
	return status.LastPhaseTransitionTime
}

func persistentVolumeClaimKind() *store.Kind {
	newInternal := func() *api.PersistentVolumeClaim { return &api.PersistentVolumeClaim{} }
	return &store.Kind{
		Resource:       groupResource("persistentvolumeclaims"),
		Kind:           "PersistentVolumeClaim",
		Namespaced:     true,
		New:            func() runtime.Object { return &corev1.PersistentVolumeClaim{} },
		NewList:        func() runtime.Object { return &corev1.PersistentVolumeClaimList{} },
		ShortNames:     []string{"pvc"},
		NameValidation: corevalidation.ValidatePersistentVolumeName,
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return upstream.Validate(obj, newInternal, func(pvc *api.PersistentVolumeClaim) field.ErrorList {
				return corevalidation.ValidatePersistentVolumeClaim(pvc, corevalidation.ValidationOptionsForPersistentVolumeClaimCreate())
			})
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return upstream.ValidateUpdate(obj, old, newInternal, func(pvc, oldPVC *api.PersistentVolumeClaim) field.ErrorList {
				return corevalidation.ValidatePersistentVolumeClaimUpdate(pvc, oldPVC, corevalidation.ValidationOptionsForPersistentVolumeClaim(pvc, oldPVC))
			})
		},
		ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return upstream.ValidateUpdate(obj, old, newInternal, func(pvc, oldPVC *api.PersistentVolumeClaim) field.ErrorList {
				return corevalidation.ValidatePersistentVolumeClaimStatusUpdate(pvc, oldPVC, corevalidation.ValidationOptionsForPersistentVolumeClaim(pvc, oldPVC))
			})
		},
		SelectableFields: func(obj runtime.Object) fields.Set {
			return fields.Set{"name": obj.(*corev1.PersistentVolumeClaim).Name}
		},
		Columns: []metav1.TableColumnDefinition{
			col("Status", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["phase"]),
			col("Volume", "string", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeName"]),
			col("Capacity", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["capacity"]),
			col("Access Modes", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["accessModes"]),
			col("StorageClass", "string", "StorageClass of the pvc"),
			col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
			store.AgeColumn,
			wideCol("VolumeMode", "string", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeMode"]),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			pvc := obj.(*corev1.PersistentVolumeClaim)
			phase := string(pvc.Status.Phase)
			if pvc.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			capacity, modes := "", ""
			if pvc.Spec.VolumeName != "" {
				modes = v1helper.GetAccessModesAsString(pvc.Status.AccessModes)
				size := pvc.Status.Capacity[corev1.ResourceStorage]
				capacity = size.String()
			}
			return []interface{}{phase, pvc.Spec.VolumeName, capacity, modes, storagehelpers.GetPersistentVolumeClaimClass(pvc),
				unsetOr(pvc.Spec.VolumeAttributesClassName), store.Age(pvc.CreationTimestamp), volumeModeCell(pvc.Spec.VolumeMode)}, nil
		},
	}
}

func unsetOr(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}

func volumeModeCell(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

func registerVolumeDefaults(scheme *runtime.Scheme) {
	scheme.AddTypeDefaultingFunc(&corev1.PersistentVolume{}, func(o interface{}) { k8sv1.SetObjectDefaults_PersistentVolume(o.(*corev1.PersistentVolume)) })
	scheme.AddTypeDefaultingFunc(&corev1.PersistentVolumeList{}, func(o interface{}) {
		k8sv1.SetObjectDefaults_PersistentVolumeList(o.(*corev1.PersistentVolumeList))
	})
	scheme.AddTypeDefaultingFunc(&corev1.PersistentVolumeClaim{}, func(o interface{}) {
		k8sv1.SetObjectDefaults_PersistentVolumeClaim(o.(*corev1.PersistentVolumeClaim))
	})
	scheme.AddTypeDefaultingFunc(&corev1.PersistentVolumeClaimList{}, func(o interface{}) {
		k8sv1.SetObjectDefaults_PersistentVolumeClaimList(o.(*corev1.PersistentVolumeClaimList))
	})
}
