package core

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/registry/podspec"
	"skiff.dev/skiff/internal/registry/store"
)

// nodeUnreachablePodReason is the status.reason the node lifecycle
// controller gives pods of an unreachable node.
const nodeUnreachablePodReason = "NodeLost"

func podKind() *store.Kind {
	return &store.Kind{
		Resource:   groupResource("pods"),
		Kind:       "Pod",
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.Pod{} },
		NewList:    func() runtime.Object { return &corev1.PodList{} },
		ShortNames: []string{"po"},
		Categories: []string{"all"},

		PrepareForCreate:     preparePodForCreate,
		Validate:             validatePodCreate,
		ValidateUpdate:       validatePodUpdate,
		ValidateStatusUpdate: validatePodStatusUpdate,
		Warnings:             podWarnings,
		GracefulDelete:       podGracefulDelete,

		Columns: []metav1.TableColumnDefinition{
			col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
			col("Status", "string", "The aggregate status of the containers in this pod."),
			col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
			store.AgeColumn,
			wideCol("IP", "string", corev1.PodStatus{}.SwaggerDoc()["podIP"]),
			wideCol("Node", "string", corev1.PodSpec{}.SwaggerDoc()["nodeName"]),
			wideCol("Nominated Node", "string", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]),
			wideCol("Readiness Gates", "string", corev1.PodSpec{}.SwaggerDoc()["readinessGates"]),
		},
		Row:              podRow,
		SelectableFields: podSelectableFields,
	}
}

// preparePodForCreate starts the pod Pending with its QoS class computed,
// and marks a pod with scheduling gates as not schedulable yet.
func preparePodForCreate(_ context.Context, obj runtime.Object) {
	pod := obj.(*corev1.Pod)
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: podspec.ComputeQOSClass(&pod.Spec)}
	if len(pod.Spec.SchedulingGates) > 0 {
		pod.Status.Conditions = []corev1.PodCondition{{
			Type:    corev1.PodScheduled,
			Status:  corev1.ConditionFalse,
			Reason:  corev1.PodReasonSchedulingGated,
			Message: "Scheduling is blocked due to non-empty scheduling gates",
		}}
	}
}

// validatePod holds what Kubernetes checks on every write of a Pod: its
// spec (with the Pod-only rules) and its pod-specific annotations.
func validatePod(pod *corev1.Pod) field.ErrorList {
	errs := podspec.ValidatePodAnnotations(pod.Annotations, &pod.Spec, field.NewPath("metadata", "annotations"))
	opts := podspec.Options{ResourceIsPod: true, PodMeta: &pod.ObjectMeta}
	return append(errs, podspec.ValidatePodSpecWithOptions(&pod.Spec, field.NewPath("spec"), opts)...)
}

func validatePodCreate(_ context.Context, obj runtime.Object) field.ErrorList {
	pod := obj.(*corev1.Pod)
	errs := validatePod(pod)
	specPath := field.NewPath("spec")
	if len(pod.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"), "cannot be set on create"))
	}
	if pod.Spec.NodeName != "" && len(pod.Spec.SchedulingGates) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("nodeName"), "cannot be set until all schedulingGates have been cleared"))
	}
	return errs
}

func podWarnings(_ context.Context, obj runtime.Object) []string {
	pod := obj.(*corev1.Pod)
	var warnings []string
	if msgs := validation.IsDNS1123Label(pod.Name); pod.Name != "" && len(msgs) > 0 {
		warnings = append(warnings, fmt.Sprintf("metadata.name: this is used in the Pod's hostname, which can result in surprising behavior; a DNS label is recommended: %v", msgs))
	}
	return append(warnings, podspec.Warnings(&pod.Spec, field.NewPath("spec"))...)
}

// updatablePodSpecFields is what the Forbidden error of a pod update lists.
var updatablePodSpecFields = []string{
	"`spec.containers[*].image`",
	"`spec.initContainers[*].image`",
	"`spec.activeDeadlineSeconds`",
	"`spec.tolerations` (only additions to existing tolerations)",
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
}

// validatePodUpdate allows what Kubernetes allows to change in a pod's spec:
// container images, activeDeadlineSeconds (set, or lowered), added
// tolerations (and their tolerationSeconds), removed scheduling gates, and
// while gated, added node selectors.
func validatePodUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	pod, oldPod := obj.(*corev1.Pod), old.(*corev1.Pod)
	errs := validatePod(pod)
	annPath := field.NewPath("metadata", "annotations")
	if v, had := oldPod.Annotations[corev1.MirrorPodAnnotationKey]; had {
		if nv, has := pod.Annotations[corev1.MirrorPodAnnotationKey]; !has || nv != v {
			errs = append(errs, field.Forbidden(annPath.Key(corev1.MirrorPodAnnotationKey), "may not remove or update mirror pod annotation"))
		}
	} else if _, has := pod.Annotations[corev1.MirrorPodAnnotationKey]; has {
		errs = append(errs, field.Forbidden(annPath.Key(corev1.MirrorPodAnnotationKey), "may not add mirror pod annotation"))
	}

	specPath := field.NewPath("spec")
	cErrs, stop := validateContainerUpdates(pod.Spec.Containers, oldPod.Spec.Containers, specPath.Child("containers"))
	errs = append(errs, cErrs...)
	if stop {
		return errs
	}
	cErrs, stop = validateContainerUpdates(pod.Spec.InitContainers, oldPod.Spec.InitContainers, specPath.Child("initContainers"))
	errs = append(errs, cErrs...)
	if stop {
		return errs
	}

	deadlinePath := specPath.Child("activeDeadlineSeconds")
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil {
		if *d < 0 || *d > math.MaxInt32 {
			return append(errs, field.Invalid(deadlinePath, *d, validation.InclusiveRangeError(0, math.MaxInt32)))
		}
		if od := oldPod.Spec.ActiveDeadlineSeconds; od != nil && *od < *d {
			return append(errs, field.Invalid(deadlinePath, *d, "must be less than or equal to previous value"))
		}
	} else if oldPod.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(deadlinePath, pod.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}

	errs = append(errs, validateOnlyAddedTolerations(pod.Spec.Tolerations, oldPod.Spec.Tolerations, specPath.Child("tolerations"))...)
	errs = append(errs, validateOnlyDeletedSchedulingGates(pod.Spec.SchedulingGates, oldPod.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)

	if apiequality.Semantic.DeepEqual(pod.Spec, oldPod.Spec) {
		return errs
	}
	munged := pod.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = oldPod.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = oldPod.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = oldPod.Spec.ActiveDeadlineSeconds
	munged.SchedulingGates = oldPod.Spec.SchedulingGates
	munged.Tolerations = oldPod.Spec.Tolerations
	if og := oldPod.Spec.TerminationGracePeriodSeconds; og != nil && *og < 0 && munged.TerminationGracePeriodSeconds != nil && *munged.TerminationGracePeriodSeconds == 1 {
		munged.TerminationGracePeriodSeconds = og
	}
	if len(oldPod.Spec.SchedulingGates) > 0 && !apiequality.Semantic.DeepEqual(munged.NodeSelector, oldPod.Spec.NodeSelector) {
		for k, v := range oldPod.Spec.NodeSelector {
			if nv, ok := munged.NodeSelector[k]; !ok || nv != v {
				errs = append(errs, field.Invalid(specPath.Child("nodeSelector"), munged.NodeSelector, "only additions to spec.nodeSelector are allowed (no mutations or deletions)"))
				break
			}
		}
		munged.NodeSelector = oldPod.Spec.NodeSelector
	}
	if !apiequality.Semantic.DeepEqual(*munged, oldPod.Spec) {
		diff := cmp.Diff(oldPod.Spec, *munged)
		errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s\n%v", strings.Join(updatablePodSpecFields, ","), diff)))
	}
	return errs
}

func validateContainerUpdates(containers, old []corev1.Container, fldPath *field.Path) (field.ErrorList, bool) {
	if len(containers) != len(old) {
		return field.ErrorList{field.Forbidden(fldPath, "pod updates may not add or remove containers")}, true
	}
	var errs field.ErrorList
	for i, c := range containers {
		if c.Image == "" {
			errs = append(errs, field.Required(fldPath.Index(i).Child("image"), ""))
		}
		if len(strings.TrimSpace(c.Image)) != len(c.Image) {
			errs = append(errs, field.Invalid(fldPath.Index(i).Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
	}
	return errs, false
}

func validateOnlyAddedTolerations(tolerations, old []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	for _, o := range old {
		found := false
		for _, t := range tolerations {
			candidate := o
			candidate.TolerationSeconds = t.TolerationSeconds
			if apiequality.Semantic.DeepEqual(candidate, t) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return podspec.ValidateTolerations(tolerations, fldPath)
}

func validateOnlyDeletedSchedulingGates(gates, old []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	oldNames := sets.New[string]()
	for _, g := range old {
		oldNames.Insert(g.Name)
	}
	var errs field.ErrorList
	for i, g := range gates {
		if !oldNames.Has(g.Name) {
			errs = append(errs, field.Forbidden(fldPath.Index(i).Child("name"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return errs
}

// validatePodStatusUpdate holds the checks of pods/status writes: the node
// is bound through pods/binding, the QoS class never changes, IPs are IPs,
// and a terminated container the restart policy keeps down stays down.
func validatePodStatusUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	pod, oldPod := obj.(*corev1.Pod), old.(*corev1.Pod)
	var errs field.ErrorList
	for i, c := range pod.Status.Conditions {
		switch c.Type {
		case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized:
			continue
		}
		// Kubernetes reports custom condition types under this path.
		for _, msg := range validation.IsQualifiedName(string(c.Type)) {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "conditions").Index(i).Child("Type"), string(c.Type), msg))
		}
	}
	statusPath := field.NewPath("status")
	if pod.Spec.NodeName != oldPod.Spec.NodeName {
		errs = append(errs, field.Forbidden(statusPath.Child("nodeName"), "may not be changed directly"))
	}
	if n := pod.Status.NominatedNodeName; n != oldPod.Status.NominatedNodeName && n != "" {
		for _, msg := range apivalidation.NameIsDNSSubdomain(n, false) {
			errs = append(errs, field.Invalid(statusPath.Child("nominatedNodeName"), n, msg))
		}
	}
	// A status without a QoS class keeps the stored one in Kubernetes (old
	// node agents drop it); only a different class is refused here.
	if pod.Status.QOSClass != "" && pod.Status.QOSClass != oldPod.Status.QOSClass {
		errs = append(errs, apivalidation.ValidateImmutableField(pod.Status.QOSClass, oldPod.Status.QOSClass, statusPath.Child("qosClass"))...)
	}
	errs = append(errs, validateContainerStateTransitions(pod.Status.ContainerStatuses, oldPod.Status.ContainerStatuses, statusPath.Child("containerStatuses"), oldPod.Spec.RestartPolicy)...)
	seen := sets.New[string]()
	for i, ip := range pod.Status.PodIPs {
		errs = append(errs, validation.IsValidIP(statusPath.Child("podIPs").Index(i), ip.IP)...)
		if seen.Has(ip.IP) {
			errs = append(errs, field.Duplicate(statusPath.Child("podIPs").Index(i), ip))
		}
		seen.Insert(ip.IP)
	}
	if len(pod.Status.HostIPs) > 0 && pod.Status.HostIP != pod.Status.HostIPs[0].IP {
		errs = append(errs, field.Invalid(statusPath.Child("hostIPs").Index(0).Child("ip"), pod.Status.HostIPs[0].IP, "must be equal to `hostIP`"))
	}
	return errs
}

func validateContainerStateTransitions(statuses, old []corev1.ContainerStatus, fldPath *field.Path, policy corev1.RestartPolicy) field.ErrorList {
	if policy == corev1.RestartPolicyAlways {
		return nil
	}
	var errs field.ErrorList
	for i, o := range old {
		if o.State.Terminated == nil || (o.State.Terminated.ExitCode != 0 && policy == corev1.RestartPolicyOnFailure) {
			continue
		}
		for _, s := range statuses {
			if s.Name == o.Name && s.State.Terminated == nil {
				errs = append(errs, field.Forbidden(fldPath.Index(i).Child("state"), "may not be transitioned to non-terminated state"))
			}
		}
	}
	return errs
}

// podGracefulDelete is Kubernetes' CheckGracefulDelete for pods: a pod that
// never reached a node, or that already finished, goes at once (grace 0);
// others get the grace period the request gives, else their own
// terminationGracePeriodSeconds, and wait for the node agent.
func podGracefulDelete(_ context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool {
	if options == nil {
		return false
	}
	pod := obj.(*corev1.Pod)
	period := int64(0)
	if options.GracePeriodSeconds != nil {
		period = *options.GracePeriodSeconds
	} else if pod.Spec.TerminationGracePeriodSeconds != nil {
		period = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		period = 0
	}
	if period < 0 {
		period = 1
	}
	options.GracePeriodSeconds = &period
	return true
}

func podSelectableFields(obj runtime.Object) fields.Set {
	pod := obj.(*corev1.Pod)
	podIP := ""
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	}
	return fields.Set{
		"spec.nodeName":            pod.Spec.NodeName,
		"spec.restartPolicy":       string(pod.Spec.RestartPolicy),
		"spec.schedulerName":       pod.Spec.SchedulerName,
		"spec.serviceAccountName":  pod.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(pod.Spec.HostNetwork),
		"status.phase":             string(pod.Status.Phase),
		"status.podIP":             podIP,
		"status.nominatedNodeName": pod.Status.NominatedNodeName,
	}
}
