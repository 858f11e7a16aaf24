// Package podspec holds the defaulting and validation of pod specs and pod
// templates that Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets,
// Jobs and CronJobs share, matching Kubernetes' field paths and messages.
package podspec

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SetDefaultsPodSpec fills in the defaults Kubernetes gives a pod spec.
func SetDefaultsPodSpec(spec *corev1.PodSpec) {
	// TODO(helper): implement.
}

// ValidatePodSpec checks a pod spec; fldPath points at the spec.
func ValidatePodSpec(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	// TODO(helper): implement.
	return nil
}

// ValidatePodTemplateSpec checks a pod template (its labels, annotations and
// spec); fldPath points at the template.
func ValidatePodTemplateSpec(t *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	// TODO(helper): implement.
	return nil
}
