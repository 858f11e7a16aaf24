package apps

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/registry/podspec"
	"skiff.dev/skiff/internal/registry/store"
)

func statefulSetKind() *store.Kind {
	return &store.Kind{
		Resource:   appsv1.SchemeGroupVersion.WithResource("statefulsets").GroupResource(),
		Kind:       "StatefulSet",
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.StatefulSet{} },
		NewList:    func() runtime.Object { return &appsv1.StatefulSetList{} },
		ShortNames: []string{"sts"},
		Categories: []string{"all"},
		// Pod names and hostnames are <name>-<ordinal>: a DNS label.
		NameValidation: apivalidation.NameIsDNSLabel,
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateStatefulSetSpec(&obj.(*appsv1.StatefulSet).Spec, specPath, setValidation{})
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateStatefulSetUpdate(obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet))
		},
		ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			ss, o := obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet)
			errs := validateStatefulSetStatus(&ss.Status, statusPath)
			return append(errs, validateCollisionCount(ss.Status.CollisionCount, o.Status.CollisionCount)...)
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
			store.AgeColumn,
			containersColumn,
			imagesColumn,
		},
		Row: statefulSetRow,
		Scale: &store.ScaleAccess{
			SpecReplicas:    func(obj runtime.Object) int32 { return ptr.Deref(obj.(*appsv1.StatefulSet).Spec.Replicas, 1) },
			SetSpecReplicas: func(obj runtime.Object, n int32) { obj.(*appsv1.StatefulSet).Spec.Replicas = &n },
			StatusReplicas:  func(obj runtime.Object) int32 { return obj.(*appsv1.StatefulSet).Status.Replicas },
			Selector: func(obj runtime.Object) (string, error) {
				s, err := selectorString(obj.(*appsv1.StatefulSet).Spec.Selector)
				if err != nil {
					return "", fmt.Errorf("statefulset selector: %w", err)
				}
				return s, nil
			},
		},
	}
}

func statefulSetRow(obj runtime.Object) ([]interface{}, error) {
	ss := obj.(*appsv1.StatefulSet)
	names, images := containerCells(ss.Spec.Template.Spec.Containers)
	return []interface{}{
		fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, ptr.Deref(ss.Spec.Replicas, 0)),
		store.Age(ss.CreationTimestamp),
		names, images,
	}, nil
}

// setValidation relaxes the checks of a StatefulSet update so that sets
// accepted by older Kubernetes releases stay updatable, as Kubernetes does.
type setValidation struct {
	// allowInvalidServiceName keeps a serviceName accepted before the
	// check existed.
	allowInvalidServiceName bool
	// skipPodSpec leaves the template's pod spec unchecked (the stored set
	// had one that is invalid today).
	skipPodSpec bool
}

// validateStatefulSetSpec checks a StatefulSet spec.
func validateStatefulSetSpec(spec *appsv1.StatefulSetSpec, p *field.Path, opts setValidation) field.ErrorList {
	var errs field.ErrorList
	switch spec.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(p.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(p.Child("podManagementPolicy"), spec.PodManagementPolicy, "must be 'OrderedReady' or 'Parallel'"))
	}

	us := spec.UpdateStrategy
	switch us.Type {
	case "":
		errs = append(errs, field.Required(p.Child("updateStrategy"), ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if us.RollingUpdate != nil {
			errs = append(errs, field.Invalid(p.Child("updateStrategy", "rollingUpdate"), us.RollingUpdate, "only allowed for updateStrategy 'RollingUpdate'"))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if us.RollingUpdate != nil {
			errs = append(errs, validateRollingUpdateStatefulSet(us.RollingUpdate, p.Child("updateStrategy", "rollingUpdate"))...)
		}
	default:
		errs = append(errs, field.Invalid(p.Child("updateStrategy"), us, "must be 'RollingUpdate' or 'OnDelete'"))
	}

	if rp := spec.PersistentVolumeClaimRetentionPolicy; rp != nil {
		rpPath := p.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, validateRetentionPolicyType(rp.WhenDeleted, rpPath.Child("whenDeleted"))...)
		errs = append(errs, validateRetentionPolicyType(rp.WhenScaled, rpPath.Child("whenScaled"))...)
	}

	errs = append(errs, nonNegative(int64(ptr.Deref(spec.Replicas, 0)), p.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, validateRevisionHistoryLimit(spec.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
	if spec.Ordinals != nil {
		errs = append(errs, nonNegative(int64(spec.Ordinals.Start), p.Child("ordinals", "start"))...)
	}
	if spec.ServiceName != "" && !opts.allowInvalidServiceName {
		for _, msg := range utilvalidation.IsDNS1123Label(spec.ServiceName) {
			errs = append(errs, field.Invalid(p.Child("serviceName"), spec.ServiceName, msg))
		}
	}

	if spec.Selector == nil {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
		if len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(p.Child("selector"), spec.Selector, "empty selector is invalid for statefulset"))
		}
	}
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err != nil {
		errs = append(errs, field.Invalid(p.Child("selector"), spec.Selector, ""))
	} else {
		errs = append(errs, validateStatefulSetTemplate(spec, sel, p.Child("template"), opts.skipPodSpec)...)
	}
	return append(errs, validateAlwaysRestart(&spec.Template, "StatefulSet", p.Child("template", "spec"))...)
}

// validateStatefulSetTemplate checks a StatefulSet's pod template as
// Kubernetes does: labels matching the selector, valid labels and
// annotations, and a valid pod spec once what the controller fills in is
// set aside (hostname and subdomain) and the claim templates count as
// volumes (container volumeMounts may name them).
func validateStatefulSetTemplate(spec *appsv1.StatefulSetSpec, sel labels.Selector, p *field.Path, skipPodSpec bool) field.ErrorList {
	t := &spec.Template
	var errs field.ErrorList
	if !sel.Empty() && !sel.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(p.Child("metadata", "labels"), t.Labels, selectorMismatchMsg))
	}
	if skipPodSpec {
		errs = append(errs, metav1validation.ValidateLabels(t.Labels, p.Child("labels"))...)
		return append(errs, apivalidation.ValidateAnnotations(t.Annotations, p.Child("annotations"))...)
	}
	return append(errs, podspec.ValidatePodTemplateSpec(podTemplateToValidate(spec), p)...)
}

// podTemplateToValidate is the set's pod template without hostname and
// subdomain, with a volume for each claim template the template does not
// already name.
func podTemplateToValidate(spec *appsv1.StatefulSetSpec) *corev1.PodTemplateSpec {
	t := spec.Template.DeepCopy()
	t.Spec.Hostname, t.Spec.Subdomain = "", ""
	if len(spec.VolumeClaimTemplates) == 0 {
		return t
	}
	claims := map[string]bool{}
	volumes := make([]corev1.Volume, 0, len(spec.VolumeClaimTemplates)+len(t.Spec.Volumes))
	for _, c := range spec.VolumeClaimTemplates {
		if claims[c.Name] {
			continue
		}
		claims[c.Name] = true
		volumes = append(volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name},
		}})
	}
	for _, v := range t.Spec.Volumes {
		if !claims[v.Name] {
			volumes = append(volumes, v)
		}
	}
	t.Spec.Volumes = volumes
	return t
}

func validateRollingUpdateStatefulSet(ru *appsv1.RollingUpdateStatefulSetStrategy, p *field.Path) field.ErrorList {
	errs := nonNegative(int64(ptr.Deref(ru.Partition, 0)), p.Child("partition"))
	if ru.MaxUnavailable != nil {
		mu := *ru.MaxUnavailable
		errs = append(errs, validateIntOrPercent(mu, p.Child("maxUnavailable"))...)
		if intOrPercentValue(mu) == 0 {
			errs = append(errs, field.Invalid(p.Child("maxUnavailable"), mu, "cannot be 0"))
		}
		errs = append(errs, notMoreThan100Percent(mu, p.Child("maxUnavailable"))...)
	}
	return errs
}

func validateRetentionPolicyType(t appsv1.PersistentVolumeClaimRetentionPolicyType, p *field.Path) field.ErrorList {
	switch t {
	case appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType:
		return nil
	default:
		return field.ErrorList{field.NotSupported(p, t, []appsv1.PersistentVolumeClaimRetentionPolicyType{
			appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
		})}
	}
}

// validateStatefulSetUpdate validates the new spec and rejects changes to
// anything but the fields Kubernetes lets a StatefulSet update change.
func validateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	opts := setValidation{allowInvalidServiceName: len(utilvalidation.IsDNS1123Label(old.Spec.ServiceName)) != 0}
	opts.skipPodSpec = len(validateStatefulSetSpec(&old.Spec, specPath, opts)) != 0
	errs := validateStatefulSetSpec(&ss.Spec, specPath, opts)

	changed := ss.Spec.DeepCopy()
	changed.Replicas = old.Spec.Replicas
	changed.Ordinals = old.Spec.Ordinals
	changed.Template = old.Spec.Template
	changed.UpdateStrategy = old.Spec.UpdateStrategy
	changed.RevisionHistoryLimit = old.Spec.RevisionHistoryLimit
	changed.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	changed.MinReadySeconds = old.Spec.MinReadySeconds
	if !apiequality.Semantic.DeepEqual(*changed, old.Spec) {
		errs = append(errs, field.Forbidden(specPath, "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
	}
	return errs
}

func validateStatefulSetStatus(s *appsv1.StatefulSetStatus, p *field.Path) field.ErrorList {
	errs := nonNegative(int64(s.Replicas), p.Child("replicas"))
	errs = append(errs, nonNegative(int64(s.ReadyReplicas), p.Child("readyReplicas"))...)
	errs = append(errs, nonNegative(int64(s.CurrentReplicas), p.Child("currentReplicas"))...)
	errs = append(errs, nonNegative(int64(s.UpdatedReplicas), p.Child("updatedReplicas"))...)
	errs = append(errs, nonNegative(int64(s.AvailableReplicas), p.Child("availableReplicas"))...)
	errs = append(errs, nonNegative(s.ObservedGeneration, p.Child("observedGeneration"))...)
	errs = append(errs, nonNegativePtr(s.CollisionCount, p.Child("collisionCount"))...)
	for _, c := range []struct {
		name string
		v    int32
	}{{"readyReplicas", s.ReadyReplicas}, {"currentReplicas", s.CurrentReplicas}, {"updatedReplicas", s.UpdatedReplicas}, {"availableReplicas", s.AvailableReplicas}} {
		if c.v > s.Replicas {
			errs = append(errs, field.Invalid(p.Child(c.name), c.v, replicasCapMsg))
		}
	}
	if s.AvailableReplicas > s.ReadyReplicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, "cannot be greater than status.readyReplicas"))
	}
	return errs
}
