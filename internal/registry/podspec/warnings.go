package podspec

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Warnings returns the warnings Kubernetes gives for a pod spec that is
// accepted but probably not what the user meant: a negative
// terminationGracePeriodSeconds, fractional byte quantities, env vars that
// hide an earlier one. fldPath points at the spec.
func Warnings(spec *corev1.PodSpec, fldPath *field.Path) []string {
	var warnings []string
	if g := spec.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		warnings = append(warnings, fmt.Sprintf("%s: must be >= 0; negative values are invalid and will be treated as 1", fldPath.Child("terminationGracePeriodSeconds")))
	}
	visitContainers(spec, fldPath, func(c *corev1.Container, p *field.Path) {
		for _, kind := range []struct {
			name string
			list corev1.ResourceList
		}{{"limits", c.Resources.Limits}, {"requests", c.Resources.Requests}} {
			for _, name := range []corev1.ResourceName{corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
				if q, ok := kind.list[name]; ok && q.MilliValue()%1000 != 0 {
					warnings = append(warnings, fmt.Sprintf("%s: fractional byte value %q is invalid, must be an integer",
						p.Child("resources", kind.name).Key(string(name)), q.String()))
				}
			}
		}
		seen := sets.New[string]()
		for i, ev := range c.Env {
			if seen.Has(ev.Name) {
				ref := fmt.Sprintf("$(%s)", ev.Name)
				if ev.ValueFrom != nil || ev.Value == ref || !strings.Contains(ev.Value, ref) {
					warnings = append(warnings, fmt.Sprintf("%s: hides previous definition of %q, which may be dropped when using apply", p.Child("env").Index(i), ev.Name))
				}
			}
			seen.Insert(ev.Name)
		}
	})
	return warnings
}
