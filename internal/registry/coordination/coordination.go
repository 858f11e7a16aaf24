// Package coordination serves the coordination.k8s.io API group: Lease, the
// object leader election (controllers, scheduler) and node heartbeats use,
// with Kubernetes' validation and kubectl table columns.
package coordination

import (
	"context"
	"fmt"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/registry/store"
)

// GroupName is the API group this package serves.
const GroupName = "coordination.k8s.io"

// Kinds returns the kinds this group serves, in the order they should be installed.
func Kinds() []*store.Kind {
	return []*store.Kind{leaseKind()}
}

// RegisterDefaults registers the defaulting functions of this group's types
// with the scheme. coordination.k8s.io/v1 has none.
func RegisterDefaults(*runtime.Scheme) {}

func leaseKind() *store.Kind {
	return &store.Kind{
		Resource:   schema.GroupResource{Group: GroupName, Resource: "leases"},
		Kind:       "Lease",
		Namespaced: true,
		New:        func() runtime.Object { return &coordinationv1.Lease{} },
		NewList:    func() runtime.Object { return &coordinationv1.LeaseList{} },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateLeaseSpec(&obj.(*coordinationv1.Lease).Spec, field.NewPath("spec"))
		},
		PrepareForCreate: func(_ context.Context, obj runtime.Object) {
			lease := obj.(*coordinationv1.Lease)
			// A Lease has a spec but no generation in Kubernetes: renewals
			// would otherwise bump it every few seconds.
			lease.Generation = 0
			dropCoordinatedElectionFields(&lease.Spec, nil)
		},
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			lease, oldLease := obj.(*coordinationv1.Lease), old.(*coordinationv1.Lease)
			lease.Generation = oldLease.Generation
			dropCoordinatedElectionFields(&lease.Spec, &oldLease.Spec)
		},
		// Leader election clients create their Lease with a PUT.
		AllowCreateOnUpdate: true,
		Columns: []metav1.TableColumnDefinition{
			{Name: "Holder", Type: "string", Description: coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]},
			store.AgeColumn,
		},
		Row: leaseRow,
	}
}

// dropCoordinatedElectionFields clears strategy and preferredHolder, which
// belong to coordinated leader election, a feature Kubernetes leaves off by
// default and skiff does not implement; values already stored are kept.
func dropCoordinatedElectionFields(spec, old *coordinationv1.LeaseSpec) {
	if old == nil || old.Strategy == nil {
		spec.Strategy = nil
	}
	if old == nil || old.PreferredHolder == nil {
		spec.PreferredHolder = nil
	}
}

func validateLeaseSpec(spec *coordinationv1.LeaseSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if d := spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(fldPath.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	if n := spec.LeaseTransitions; n != nil && *n < 0 {
		errs = append(errs, field.Invalid(fldPath.Child("leaseTransitions"), *n, "must be greater than or equal to 0"))
	}
	if spec.Strategy != nil {
		errs = append(errs, validateStrategy(*spec.Strategy, fldPath.Child("strategy"))...)
	}
	if spec.PreferredHolder != nil && *spec.PreferredHolder != "" && (spec.Strategy == nil || *spec.Strategy == "") {
		errs = append(errs, field.Forbidden(fldPath.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}

// validateStrategy accepts Kubernetes' strategies and prefixed (custom)
// ones. Like Kubernetes, it reports errors at spec.strategy.strategy.
func validateStrategy(strategy coordinationv1.CoordinatedLeaseStrategy, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !strings.Contains(string(strategy), "/") {
		if strategy != coordinationv1.OldestEmulationVersion {
			errs = append(errs, field.NotSupported(fldPath.Child("strategy"), strategy, []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}))
		}
		return errs
	}
	for _, msg := range content.IsLabelKey(string(strategy)) {
		errs = append(errs, field.Invalid(fldPath.Child("strategy"), strategy, msg))
	}
	return errs
}

// leaseRow renders HOLDER AGE.
func leaseRow(obj runtime.Object) ([]interface{}, error) {
	lease, ok := obj.(*coordinationv1.Lease)
	if !ok {
		return nil, fmt.Errorf("table row: unexpected type %T", obj)
	}
	holder := ""
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	return []interface{}{holder, store.Age(lease.CreationTimestamp)}, nil
}
