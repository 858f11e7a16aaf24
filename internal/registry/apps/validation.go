package apps

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/registry/podspec"
)

const (
	selectorMismatchMsg = "`selector` does not match template `labels`"
	replicasCapMsg      = "cannot be greater than status.replicas"
)

var (
	specPath   = field.NewPath("spec")
	statusPath = field.NewPath("status")
)

func nonNegative(v int64, p *field.Path) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(v, p)
}

func nonNegativePtr(v *int32, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return nonNegative(int64(*v), p)
}

// validateRequiredSelector checks spec.selector of a Deployment, ReplicaSet or
// StatefulSet: present, a valid label selector, and not empty.
func validateRequiredSelector(sel *metav1.LabelSelector, kind string, p *field.Path) field.ErrorList {
	if sel == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, p)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(p, sel, "empty selector is invalid for "+kind))
	}
	return errs
}

// validateReplicaSetTemplate checks the pod template of a ReplicaSet or a
// Deployment: its labels match the selector, it is a valid pod template, it
// restarts Always and has no active deadline.
func validateReplicaSetTemplate(t *corev1.PodTemplateSpec, sel labels.Selector, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !sel.Empty() && !sel.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(p.Child("metadata", "labels"), t.Labels, selectorMismatchMsg))
	}
	errs = append(errs, podspec.ValidatePodTemplateSpec(t, p)...)
	errs = append(errs, validateAlwaysRestart(t, "ReplicaSet", p.Child("spec"))...)
	return errs
}

// validateAlwaysRestart checks what every long-running workload asks of its
// pods: restartPolicy Always and no activeDeadlineSeconds.
// p points at the template's spec.
func validateAlwaysRestart(t *corev1.PodTemplateSpec, kind string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(p.Child("restartPolicy"), t.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(p.Child("activeDeadlineSeconds"), "activeDeadlineSeconds in "+kind+" is not Supported"))
	}
	return errs
}

// validateIntOrPercent checks a non-negative integer or a percentage.
func validateIntOrPercent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch v.Type {
	case intstr.String:
		for _, msg := range utilvalidation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(p, v, msg))
		}
	case intstr.Int:
		errs = append(errs, nonNegative(int64(v.IntValue()), p)...)
	default:
		errs = append(errs, field.Invalid(p, v, "must be an integer or percentage (e.g '5%%')"))
	}
	return errs
}

// percentValue returns the number of a valid percentage.
func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(utilvalidation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, true
}

// intOrPercentValue is the number in an int or a percentage, 0 otherwise.
func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

func notMoreThan100Percent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	if n, ok := percentValue(v); ok && n > 100 {
		return field.ErrorList{field.Invalid(p, v, "must not be greater than 100%")}
	}
	return nil
}

func validateRevisionHistoryLimit(v *int32, p *field.Path) field.ErrorList {
	// Zero is valid: keep no history.
	return nonNegativePtr(v, p)
}

// validateSelectorUnchanged rejects a change of spec.selector, which apps/v1
// makes immutable.
func validateSelectorUnchanged(sel, old *metav1.LabelSelector) field.ErrorList {
	return apivalidation.ValidateImmutableField(sel, old, specPath.Child("selector"))
}

// validateCollisionCount rejects a status.collisionCount that went down.
func validateCollisionCount(count, old *int32) field.ErrorList {
	if old == nil || (count != nil && *count >= *old) {
		return nil
	}
	return field.ErrorList{field.Invalid(statusPath.Child("collisionCount"), ptr.Deref(count, 0), "cannot be decremented")}
}

// selectorString renders a label selector as the scale subresource and the
// wide columns of Deployments show it.
func selectorString(sel *metav1.LabelSelector) (string, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}

var intstrZero = intstr.FromInt32(0)
