// Package rbac serves the rbac.authorization.k8s.io API group: Role,
// ClusterRole, RoleBinding and ClusterRoleBinding, with Kubernetes'
// validation (k8s.io/kubernetes' own validators), kubectl's table columns,
// and the escalation check that keeps a user from granting or binding
// permissions they do not hold.
package rbac

import (
	"context"
	"fmt"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubernetes/pkg/apis/rbac"
	rbacinternalv1 "k8s.io/kubernetes/pkg/apis/rbac/v1"
	rbacvalidation "k8s.io/kubernetes/pkg/apis/rbac/validation"

	"skiff.dev/skiff/internal/registry/store"
)

// Kinds returns the kinds this group serves. guard checks every write of a
// role or binding for privilege escalation; its fields may be filled in
// after Kinds returns, but before the API serves requests.
func Kinds(guard *Guard) []*store.Kind {
	return []*store.Kind{
		{
			Resource: schema.GroupResource{Group: rbacv1.GroupName, Resource: "roles"}, Kind: "Role",
			Namespaced: true, NameValidation: path.ValidatePathSegmentName,
			New:     func() runtime.Object { return &rbacv1.Role{} },
			NewList: func() runtime.Object { return &rbacv1.RoleList{} },
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				var in rbac.Role
				return validateConverted(rbacinternalv1.Convert_v1_Role_To_rbac_Role(obj.(*rbacv1.Role), &in, nil),
					func() field.ErrorList { return rbacvalidation.ValidateRole(&in) })
			},
			NoStatusSubresource: true,
			Columns:             createdAtColumns,
			Row:                 createdAtRow,
			Extend:              guard.roles,
		},
		{
			Resource: schema.GroupResource{Group: rbacv1.GroupName, Resource: "clusterroles"}, Kind: "ClusterRole",
			NameValidation: path.ValidatePathSegmentName,
			New:            func() runtime.Object { return &rbacv1.ClusterRole{} },
			NewList:        func() runtime.Object { return &rbacv1.ClusterRoleList{} },
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				var in rbac.ClusterRole
				return validateConverted(rbacinternalv1.Convert_v1_ClusterRole_To_rbac_ClusterRole(obj.(*rbacv1.ClusterRole), &in, nil),
					func() field.ErrorList {
						return rbacvalidation.ValidateClusterRole(&in, rbacvalidation.ClusterRoleValidationOptions{})
					})
			},
			NoStatusSubresource: true,
			Columns:             createdAtColumns,
			Row:                 createdAtRow,
			Extend:              guard.clusterRoles,
		},
		{
			Resource: schema.GroupResource{Group: rbacv1.GroupName, Resource: "rolebindings"}, Kind: "RoleBinding",
			Namespaced: true, NameValidation: path.ValidatePathSegmentName,
			New:     func() runtime.Object { return &rbacv1.RoleBinding{} },
			NewList: func() runtime.Object { return &rbacv1.RoleBindingList{} },
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				var in rbac.RoleBinding
				return validateConverted(rbacinternalv1.Convert_v1_RoleBinding_To_rbac_RoleBinding(obj.(*rbacv1.RoleBinding), &in, nil),
					func() field.ErrorList { return rbacvalidation.ValidateRoleBinding(&in) })
			},
			ValidateUpdate: func(ctx context.Context, obj, old runtime.Object) field.ErrorList {
				var in rbac.RoleBinding
				errs := validateConverted(rbacinternalv1.Convert_v1_RoleBinding_To_rbac_RoleBinding(obj.(*rbacv1.RoleBinding), &in, nil),
					func() field.ErrorList { return rbacvalidation.ValidateRoleBinding(&in) })
				return append(errs, immutableRoleRef(obj.(*rbacv1.RoleBinding).RoleRef, old.(*rbacv1.RoleBinding).RoleRef)...)
			},
			NoStatusSubresource: true,
			Columns:             bindingColumns,
			Row: func(obj runtime.Object) ([]interface{}, error) {
				b := obj.(*rbacv1.RoleBinding)
				return bindingRow(b.CreationTimestamp, b.RoleRef, b.Subjects), nil
			},
			Extend: guard.roleBindings,
		},
		{
			Resource: schema.GroupResource{Group: rbacv1.GroupName, Resource: "clusterrolebindings"}, Kind: "ClusterRoleBinding",
			NameValidation: path.ValidatePathSegmentName,
			New:            func() runtime.Object { return &rbacv1.ClusterRoleBinding{} },
			NewList:        func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				var in rbac.ClusterRoleBinding
				return validateConverted(rbacinternalv1.Convert_v1_ClusterRoleBinding_To_rbac_ClusterRoleBinding(obj.(*rbacv1.ClusterRoleBinding), &in, nil),
					func() field.ErrorList { return rbacvalidation.ValidateClusterRoleBinding(&in) })
			},
			ValidateUpdate: func(ctx context.Context, obj, old runtime.Object) field.ErrorList {
				var in rbac.ClusterRoleBinding
				errs := validateConverted(rbacinternalv1.Convert_v1_ClusterRoleBinding_To_rbac_ClusterRoleBinding(obj.(*rbacv1.ClusterRoleBinding), &in, nil),
					func() field.ErrorList { return rbacvalidation.ValidateClusterRoleBinding(&in) })
				return append(errs, immutableRoleRef(obj.(*rbacv1.ClusterRoleBinding).RoleRef, old.(*rbacv1.ClusterRoleBinding).RoleRef)...)
			},
			NoStatusSubresource: true,
			Columns:             bindingColumns,
			Row: func(obj runtime.Object) ([]interface{}, error) {
				b := obj.(*rbacv1.ClusterRoleBinding)
				return bindingRow(b.CreationTimestamp, b.RoleRef, b.Subjects), nil
			},
			Extend: guard.clusterRoleBindings,
		},
	}
}

// validateConverted runs Kubernetes' validator on the internal copy of an
// object, leaving out the metadata errors the store already reports (same
// rules: path-segment names).
func validateConverted(convErr error, validate func() field.ErrorList) field.ErrorList {
	if convErr != nil {
		return field.ErrorList{field.InternalError(nil, fmt.Errorf("convert to internal: %w", convErr))}
	}
	var out field.ErrorList
	for _, e := range validate() {
		if e.Field == "metadata" || strings.HasPrefix(e.Field, "metadata.") {
			continue
		}
		out = append(out, e)
	}
	return out
}

// immutableRoleRef refuses a change of a binding's roleRef, with the
// message Kubernetes gives ("field is immutable"); the rest of an update is
// validated as a create.
func immutableRoleRef(ref, old rbacv1.RoleRef) field.ErrorList {
	if ref != old {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "field is immutable")}
	}
	return nil
}

var createdAtColumns = []metav1.TableColumnDefinition{
	{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
}

func createdAtRow(obj runtime.Object) ([]interface{}, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("table row: unexpected type %T", obj)
	}
	return []interface{}{m.GetCreationTimestamp().UTC().Format(time.RFC3339)}, nil
}

var bindingColumns = []metav1.TableColumnDefinition{
	{Name: "Role", Type: "string", Description: rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"]},
	store.AgeColumn,
	{Name: "Users", Type: "string", Priority: 1, Description: "Users in the roleBinding"},
	{Name: "Groups", Type: "string", Priority: 1, Description: "Groups in the roleBinding"},
	{Name: "ServiceAccounts", Type: "string", Priority: 1, Description: "ServiceAccounts in the roleBinding"},
}

// bindingRow renders a binding as kubectl does: ROLE as Kind/name, then
// the users, groups and service accounts (namespace:name) of its subjects.
func bindingRow(created metav1.Time, ref rbacv1.RoleRef, subjects []rbacv1.Subject) []interface{} {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []interface{}{ref.Kind + "/" + ref.Name, store.Age(created),
		strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
}

// RegisterDefaults registers Kubernetes' defaulting of the rbac/v1 types
// (a binding's roleRef and subjects get their API group) with the scheme.
func RegisterDefaults(scheme *runtime.Scheme) {
	if err := rbacinternalv1.RegisterDefaults(scheme); err != nil {
		panic(fmt.Sprintf("rbac defaults: %v", err))
	}
}
