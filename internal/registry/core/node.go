package core

import (
	"context"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/registry/podspec"
	"skiff.dev/skiff/internal/registry/store"
)

// Node role labels kubectl reads for the ROLES column.
const (
	labelNodeRolePrefix = "node-role.kubernetes.io/"
	labelNodeRole       = "kubernetes.io/role"
)

func nodeKind() *store.Kind {
	return &store.Kind{
		Resource:   groupResource("nodes"),
		Kind:       "Node",
		New:        func() runtime.Object { return &corev1.Node{} },
		NewList:    func() runtime.Object { return &corev1.NodeList{} },
		ShortNames: []string{"no"},
		// A node agent registers its node with its status.
		KeepStatusOnCreate: true,

		PrepareForCreate: func(_ context.Context, obj runtime.Object) { obj.(*corev1.Node).Generation = 0 },
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			obj.(*corev1.Node).Generation = old.(*corev1.Node).Generation
		},
		Validate:             func(_ context.Context, obj runtime.Object) field.ErrorList { return validateNode(obj.(*corev1.Node)) },
		ValidateUpdate:       validateNodeUpdate,
		ValidateStatusUpdate: validateNodeUpdate,

		Columns: []metav1.TableColumnDefinition{
			col("Status", "string", "The status of the node"),
			col("Roles", "string", "The roles of the node"),
			store.AgeColumn,
			col("Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kubeletVersion"]),
			wideCol("Internal-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"]),
			wideCol("External-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"]),
			wideCol("OS-Image", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["osImage"]),
			wideCol("Kernel-Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kernelVersion"]),
			wideCol("Container-Runtime", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["containerRuntimeVersion"]),
		},
		Row: nodeRow,
		SelectableFields: func(obj runtime.Object) fields.Set {
			return fields.Set{"spec.unschedulable": strconv.FormatBool(obj.(*corev1.Node).Spec.Unschedulable)}
		},
	}
}

// setDefaultsNode makes allocatable default to capacity and rounds the
// quantities to milli precision.
func setDefaultsNode(n *corev1.Node) {
	if n.Status.Allocatable == nil && n.Status.Capacity != nil {
		n.Status.Allocatable = make(corev1.ResourceList, len(n.Status.Capacity))
		for k, v := range n.Status.Capacity {
			n.Status.Allocatable[k] = v.DeepCopy()
		}
	}
	for _, list := range []corev1.ResourceList{n.Status.Capacity, n.Status.Allocatable} {
		for k, v := range list {
			v.RoundUp(apiresource.Milli)
			list[k] = v
		}
	}
}

func validateNode(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	// Kubernetes reports the taints under metadata.
	errs = append(errs, validateNodeTaints(n.Spec.Taints, field.NewPath("metadata", "taints"))...)
	errs = append(errs, validateNodeResources(n)...)
	if len(n.Spec.PodCIDRs) > 0 {
		p := field.NewPath("spec", "podCIDRs")
		for i, c := range n.Spec.PodCIDRs {
			errs = append(errs, validation.IsValidCIDR(p.Index(i), c)...)
		}
		if len(n.Spec.PodCIDRs) > 1 {
			v4 := 0
			for _, c := range n.Spec.PodCIDRs {
				if !strings.Contains(c, ":") {
					v4++
				}
			}
			if len(n.Spec.PodCIDRs) > 2 || v4 != 1 {
				errs = append(errs, field.Invalid(p, n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
			}
			seen := sets.New[string]()
			for i, c := range n.Spec.PodCIDRs {
				if seen.Has(c) {
					errs = append(errs, field.Duplicate(p.Index(i), c))
				}
				seen.Insert(c)
			}
		}
	}
	return errs
}

func validateNodeResources(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	for _, l := range []struct {
		name string
		list corev1.ResourceList
	}{{"capacity", n.Status.Capacity}, {"allocatable", n.Status.Allocatable}} {
		names := make([]string, 0, len(l.list))
		for k := range l.list {
			names = append(names, string(k))
		}
		sort.Strings(names)
		for _, k := range names {
			errs = append(errs, podspec.ValidateResourceQuantityValue(corev1.ResourceName(k), l.list[corev1.ResourceName(k)], field.NewPath("status", l.name, k))...)
		}
	}
	return errs
}

func validateNodeTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.TaintEffect]sets.Set[string]{}
	for i, t := range taints {
		p := fldPath.Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, p.Child("key"))...)
		if msgs := validation.IsValidLabelValue(t.Value); len(msgs) > 0 {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		case "":
			errs = append(errs, field.Required(p.Child("effect"), ""))
		default:
			errs = append(errs, field.NotSupported(p.Child("effect"), t.Effect, []corev1.TaintEffect{
				corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}))
		}
		if seen[t.Effect].Has(t.Key) {
			dup := field.Duplicate(p, t)
			dup.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, dup)
			continue
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = sets.New[string]()
		}
		seen[t.Effect].Insert(t.Key)
	}
	return errs
}

// validateNodeUpdate checks a node update (main resource or status): the
// pod CIDRs and provider ID are set once, addresses are distinct.
func validateNodeUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	n, oldN := obj.(*corev1.Node), old.(*corev1.Node)
	errs := validateNodeResources(n)
	seen := map[corev1.NodeAddress]bool{}
	for i, a := range n.Status.Addresses {
		if seen[a] {
			errs = append(errs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		seen[a] = true
	}
	if len(oldN.Spec.PodCIDRs) > 0 && !sameStrings(oldN.Spec.PodCIDRs, n.Spec.PodCIDRs) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if oldN.Spec.ProviderID != "" && oldN.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	errs = append(errs, validateNodeTaints(n.Spec.Taints, field.NewPath("metadata", "taints"))...)
	if n.Spec.DoNotUseExternalID != oldN.Spec.DoNotUseExternalID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return errs
}

// nodeRow renders STATUS, ROLES, AGE, VERSION and the wide columns the way
// kubectl's node printer does.
func nodeRow(obj runtime.Object) ([]interface{}, error) {
	n := obj.(*corev1.Node)
	info := n.Status.NodeInfo
	return []interface{}{
		NodeStatus(n),
		orNone(strings.Join(nodeRoles(n), ",")),
		store.Age(n.CreationTimestamp),
		info.KubeletVersion,
		nodeAddress(n, corev1.NodeInternalIP),
		nodeAddress(n, corev1.NodeExternalIP),
		orUnknown(info.OSImage),
		orUnknown(info.KernelVersion),
		orUnknown(info.ContainerRuntimeVersion),
	}, nil
}

// NodeStatus is the STATUS column of kubectl get nodes: Ready, NotReady (a
// Ready condition that is False or Unknown) or Unknown (no Ready condition),
// with ",SchedulingDisabled" for a cordoned node.
func NodeStatus(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			status = "Ready"
		} else {
			status = "NotReady"
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

func nodeRoles(n *corev1.Node) []string {
	roles := sets.New[string]()
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, labelNodeRolePrefix):
			if role := strings.TrimPrefix(k, labelNodeRolePrefix); role != "" {
				roles.Insert(role)
			}
		case k == labelNodeRole && v != "":
			roles.Insert(v)
		}
	}
	return sets.List(roles)
}

func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}
