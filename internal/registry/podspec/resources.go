package podspec

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	resourcehelper "k8s.io/component-helpers/resource"
)

// standardResourceNames are the unqualified resource names Kubernetes knows
// (compute resources and quota names).
var standardResourceNames = sets.New(
	"cpu", "memory", "ephemeral-storage", "storage",
	"requests.cpu", "requests.memory", "requests.ephemeral-storage", "requests.storage",
	"limits.cpu", "limits.memory", "limits.ephemeral-storage",
	"pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
	"persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
)

func isHugePageResourceName(name corev1.ResourceName) bool {
	return strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

func isStandardResourceName(name corev1.ResourceName) bool {
	return standardResourceNames.Has(string(name)) || isHugePageResourceName(name) ||
		strings.HasPrefix(string(name), "requests."+corev1.ResourceHugePagesPrefix)
}

// isNativeResource reports whether the name is unqualified or in the
// kubernetes.io domain.
func isNativeResource(name corev1.ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), corev1.ResourceDefaultNamespacePrefix)
}

func isExtendedResourceName(name corev1.ResourceName) bool {
	if isNativeResource(name) || strings.HasPrefix(string(name), corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+string(name))) == 0
}

// overcommitAllowed reports whether requests may be below limits: not for
// hugepages and extended resources (GPUs).
func overcommitAllowed(name corev1.ResourceName) bool {
	return isNativeResource(name) && !isHugePageResourceName(name)
}

// containerResourceName checks a resource name in a container's (or the
// overhead's) requests and limits.
func containerResourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	errs := resourceName(name, fldPath)
	if !strings.Contains(string(name), "/") {
		switch {
		case name == corev1.ResourceCPU, name == corev1.ResourceMemory, name == corev1.ResourceEphemeralStorage, isHugePageResourceName(name):
		default:
			errs = append(errs, field.Invalid(fldPath, name, "must be a standard resource for containers"))
		}
	} else if !isNativeResource(name) && !isExtendedResourceName(name) {
		errs = append(errs, field.Invalid(fldPath, name, "doesn't follow extended resource name standard"))
	}
	return errs
}

// podResourceName checks a resource name in the pod-level resources.
func podResourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	errs := resourceName(name, fldPath)
	if len(errs) > 0 {
		return errs
	}
	if !resourcehelper.IsSupportedPodLevelResource(name) {
		supported := sets.List(resourcehelper.SupportedPodLevelResources())
		errs = append(errs, field.NotSupported(fldPath, name, supported))
	}
	return errs
}

func resourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(string(name)) {
		errs = append(errs, field.Invalid(fldPath, name, msg))
	}
	if len(errs) > 0 {
		return errs
	}
	if !strings.Contains(string(name), "/") && !isStandardResourceName(name) {
		errs = append(errs, field.Invalid(fldPath, name, "must be a standard resource type or fully qualified"))
	}
	return errs
}

// ValidateResourceQuantityValue requires a non-negative quantity, and an
// integer one for resources counted in units (extended resources).
func ValidateResourceQuantityValue(name corev1.ResourceName, q resource.Quantity, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if q.Cmp(resource.Quantity{}) < 0 {
		errs = append(errs, field.Invalid(fldPath, q.String(), apivalidation.IsNegativeErrorMsg))
	}
	if isExtendedResourceName(name) && q.MilliValue()%1000 != 0 {
		errs = append(errs, field.Invalid(fldPath, q, "must be an integer"))
	}
	return errs
}

func sortedResourceNames(list corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(list))
	for n := range list {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}

// validateResourceRequirements checks requests and limits: valid names,
// non-negative quantities, requests at most the limits (equal to them for
// resources that cannot be overcommitted), and claims naming pod claims.
func validateResourceRequirements(r *corev1.ResourceRequirements, nameFn func(corev1.ResourceName, *field.Path) field.ErrorList, claims sets.Set[string], fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	limPath, reqPath := fldPath.Child("limits"), fldPath.Child("requests")
	limCPUOrMem, reqCPUOrMem, limHuge, reqHuge := false, false, false, false
	for _, name := range sortedResourceNames(r.Limits) {
		q := r.Limits[name]
		p := limPath.Key(string(name))
		errs = append(errs, nameFn(name, p)...)
		errs = append(errs, ValidateResourceQuantityValue(name, q, p)...)
		if isHugePageResourceName(name) {
			limHuge = true
			errs = append(errs, validateHugePageValue(name, q, p)...)
		}
		if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
			limCPUOrMem = true
		}
	}
	for _, name := range sortedResourceNames(r.Requests) {
		q := r.Requests[name]
		p := reqPath.Key(string(name))
		errs = append(errs, nameFn(name, p)...)
		errs = append(errs, ValidateResourceQuantityValue(name, q, p)...)
		if limit, ok := r.Limits[name]; ok {
			if q.Cmp(limit) != 0 && !overcommitAllowed(name) {
				errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, limit.String())))
			} else if q.Cmp(limit) > 0 {
				errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
			}
		} else if !overcommitAllowed(name) {
			errs = append(errs, field.Required(limPath, "Limit must be set for non overcommitable resources"))
		}
		if isHugePageResourceName(name) {
			reqHuge = true
			errs = append(errs, validateHugePageValue(name, q, p)...)
		}
		if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
			reqCPUOrMem = true
		}
	}
	if !limCPUOrMem && !reqCPUOrMem && (limHuge || reqHuge) {
		errs = append(errs, field.Forbidden(fldPath, "HugePages require cpu or memory"))
	}
	errs = append(errs, validateClaimReferences(r.Claims, claims, fldPath.Child("claims"))...)
	return errs
}

func validateHugePageValue(name corev1.ResourceName, q resource.Quantity, fldPath *field.Path) field.ErrorList {
	size, err := resource.ParseQuantity(strings.TrimPrefix(string(name), corev1.ResourceHugePagesPrefix))
	if err != nil || size.Value() <= 0 {
		return nil
	}
	if q.Value()%size.Value() != 0 {
		return field.ErrorList{field.Invalid(fldPath, q.String(), fmt.Sprintf("%s is not positive integer multiple of %s", q.String(), name))}
	}
	return nil
}

func validateClaimReferences(refs []corev1.ResourceClaim, claims sets.Set[string], fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, c := range refs {
		if c.Name == "" {
			errs = append(errs, field.Required(fldPath.Index(i), ""))
			continue
		}
		key := c.Name
		if c.Request != "" {
			errs = append(errs, dns1123Label(c.Request, fldPath.Index(i).Child("request"))...)
			key += "/" + c.Request
		}
		if seen.Has(key) || seen.Has(c.Name) {
			errs = append(errs, field.Duplicate(fldPath.Index(i), key))
		}
		seen.Insert(key)
		if !claims.Has(c.Name) {
			e := field.NotFound(fldPath.Index(i), c.Name)
			e.Detail = "must be one of the names in pod.spec.resourceClaims"
			if claims.Len() == 0 {
				e.Detail += " which is empty"
			} else {
				e.Detail += ": " + strings.Join(sets.List(claims), ", ")
			}
			errs = append(errs, e)
		}
	}
	return errs
}

// validatePodResources checks pod-level resources and that they cover what
// the containers ask for.
func validatePodResources(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Resources.Claims != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("claims"), "claims cannot be set for Resources at pod-level"))
	}
	errs = append(errs, validateResourceRequirements(spec.Resources, podResourceName, nil, fldPath)...)
	aggregate := resourcehelper.AggregateContainerRequests(&corev1.Pod{Spec: *spec}, resourcehelper.PodResourcesOptions{})
	for _, name := range sortedResourceNames(aggregate) {
		podReq, ok := spec.Resources.Requests[name]
		if !ok {
			continue
		}
		ctrReq := aggregate[name]
		if ctrReq.Cmp(podReq) > 0 {
			errs = append(errs, field.Invalid(fldPath.Child("requests").Key(string(name)), podReq.String(),
				fmt.Sprintf("must be greater than or equal to aggregate container requests of %s", ctrReq.String())))
		}
	}
	for i, c := range spec.Containers {
		for _, name := range sortedResourceNames(c.Resources.Limits) {
			podLimit, ok := spec.Resources.Limits[name]
			if !ok {
				continue
			}
			ctrLimit := c.Resources.Limits[name]
			if ctrLimit.Cmp(podLimit) > 0 {
				errs = append(errs, field.Invalid(fldPath.Child("containers").Index(i).Key(string(name)).Child("limits"), ctrLimit.String(),
					fmt.Sprintf("must be less than or equal to pod limits of %s", podLimit.String())))
			}
		}
	}
	return errs
}

// ComputeQOSClass returns the quality of service class of a pod spec, as
// the API server records it in status.qosClass on create: Guaranteed when
// every container limits cpu and memory and requests equal limits,
// BestEffort when nothing requests or limits cpu or memory, Burstable
// otherwise. Pod-level resources, when set, decide alone.
func ComputeQOSClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed := true
	add := func(into corev1.ResourceList, list corev1.ResourceList) sets.Set[corev1.ResourceName] {
		found := sets.New[corev1.ResourceName]()
		for name, q := range list {
			if name != corev1.ResourceCPU && name != corev1.ResourceMemory {
				continue
			}
			if q.Cmp(resource.Quantity{}) <= 0 {
				continue
			}
			found.Insert(name)
			sum := q.DeepCopy()
			if prev, ok := into[name]; ok {
				sum.Add(prev)
			}
			into[name] = sum
		}
		return found
	}
	if r := spec.Resources; r != nil && (hasCPUOrMemory(r.Requests) || hasCPUOrMemory(r.Limits)) {
		add(requests, r.Requests)
		if !add(limits, r.Limits).HasAll(corev1.ResourceCPU, corev1.ResourceMemory) {
			guaranteed = false
		}
	} else {
		all := append(append([]corev1.Container{}, spec.Containers...), spec.InitContainers...)
		for _, c := range all {
			add(requests, c.Resources.Requests)
			if !add(limits, c.Resources.Limits).HasAll(corev1.ResourceCPU, corev1.ResourceMemory) {
				guaranteed = false
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func hasCPUOrMemory(list corev1.ResourceList) bool {
	_, cpu := list[corev1.ResourceCPU]
	_, mem := list[corev1.ResourceMemory]
	return cpu || mem
}
