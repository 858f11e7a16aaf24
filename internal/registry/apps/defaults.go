package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"skiff.dev/skiff/internal/registry/podspec"
)

// setDefaultsDeployment fills what Kubernetes' apps/v1 defaulting fills:
// one replica, a RollingUpdate strategy with 25% surge and unavailability,
// ten old ReplicaSets kept, a 600s progress deadline, and the pod template.
func setDefaultsDeployment(d *appsv1.Deployment) {
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = new(int32(1))
	}
	s := &d.Spec.Strategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = new(intstr.FromString("25%"))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = new(intstr.FromString("25%"))
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = new(int32(10))
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		d.Spec.ProgressDeadlineSeconds = new(int32(600))
	}
	podspec.SetDefaultsPodSpec(&d.Spec.Template.Spec)
}

// setDefaultsReplicaSet gives a ReplicaSet one replica and defaults its pod
// template.
func setDefaultsReplicaSet(rs *appsv1.ReplicaSet) {
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = new(int32(1))
	}
	podspec.SetDefaultsPodSpec(&rs.Spec.Template.Spec)
}

// setDefaultsStatefulSet fills a StatefulSet as Kubernetes does: OrderedReady
// pod management, RollingUpdate with partition 0 (the rollingUpdate block is
// only added when the strategy type was empty), Retain/Retain PVC retention,
// one replica, ten revisions kept, then the pod template and the claim
// templates.
func setDefaultsStatefulSet(ss *appsv1.StatefulSet) {
	if ss.Spec.PodManagementPolicy == "" {
		ss.Spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	us := &ss.Spec.UpdateStrategy
	if us.Type == "" {
		us.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if us.RollingUpdate == nil {
			us.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if us.Type == appsv1.RollingUpdateStatefulSetStrategyType && us.RollingUpdate != nil && us.RollingUpdate.Partition == nil {
		us.RollingUpdate.Partition = new(int32(0))
	}
	if ss.Spec.PersistentVolumeClaimRetentionPolicy == nil {
		ss.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	rp := ss.Spec.PersistentVolumeClaimRetentionPolicy
	if rp.WhenDeleted == "" {
		rp.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if rp.WhenScaled == "" {
		rp.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if ss.Spec.Replicas == nil {
		ss.Spec.Replicas = new(int32(1))
	}
	if ss.Spec.RevisionHistoryLimit == nil {
		ss.Spec.RevisionHistoryLimit = new(int32(10))
	}
	podspec.SetDefaultsPodSpec(&ss.Spec.Template.Spec)
	for i := range ss.Spec.VolumeClaimTemplates {
		setDefaultsClaimTemplate(&ss.Spec.VolumeClaimTemplates[i])
	}
}

// setDefaultsClaimTemplate gives a volumeClaimTemplate what a served
// StatefulSet shows in Kubernetes: its apiVersion and kind, the Filesystem
// volume mode and a Pending phase.
func setDefaultsClaimTemplate(pvc *corev1.PersistentVolumeClaim) {
	if pvc.APIVersion == "" {
		pvc.APIVersion = corev1.SchemeGroupVersion.String()
	}
	if pvc.Kind == "" {
		pvc.Kind = "PersistentVolumeClaim"
	}
	if pvc.Spec.VolumeMode == nil {
		pvc.Spec.VolumeMode = new(corev1.PersistentVolumeFilesystem)
	}
	if pvc.Status.Phase == "" {
		pvc.Status.Phase = corev1.ClaimPending
	}
}

// setDefaultsDaemonSet gives a DaemonSet a RollingUpdate strategy with
// maxUnavailable 1 and maxSurge 0, ten revisions kept, and defaults its pod
// template.
func setDefaultsDaemonSet(ds *appsv1.DaemonSet) {
	us := &ds.Spec.UpdateStrategy
	if us.Type == "" {
		us.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if us.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if us.RollingUpdate == nil {
			us.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if us.RollingUpdate.MaxUnavailable == nil {
			us.RollingUpdate.MaxUnavailable = new(intstr.FromInt32(1))
		}
		if us.RollingUpdate.MaxSurge == nil {
			us.RollingUpdate.MaxSurge = new(intstr.FromInt32(0))
		}
	}
	if ds.Spec.RevisionHistoryLimit == nil {
		ds.Spec.RevisionHistoryLimit = new(int32(10))
	}
	podspec.SetDefaultsPodSpec(&ds.Spec.Template.Spec)
}
