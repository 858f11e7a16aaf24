package rbac

import (
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func kind(name string) func(context.Context, runtime.Object) []string {
	for _, k := range Kinds(&Guard{}) {
		if k.Kind == name {
			return func(ctx context.Context, obj runtime.Object) []string {
				var out []string
				for _, e := range k.Validate(ctx, obj) {
					out = append(out, e.Error())
				}
				return out
			}
		}
	}
	panic(name)
}

func TestValidate(t *testing.T) {
	ctx := context.Background()
	meta := metav1.ObjectMeta{Name: "system:reader", Namespace: "team-a"}
	for _, tt := range []struct {
		name string
		kind string
		obj  runtime.Object
		want []string
	}{
		{name: "role", kind: "Role", obj: &rbacv1.Role{ObjectMeta: meta, Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}},
		{name: "rule without verbs", kind: "Role", obj: &rbacv1.Role{ObjectMeta: meta, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}}}},
			want: []string{"rules[0].verbs: Required value: verbs must contain at least one value"}},
		{name: "non-resource URL in a namespaced role", kind: "Role", obj: &rbacv1.Role{ObjectMeta: meta, Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}},
			want: []string{"rules[0].nonResourceURLs: Invalid value: [\"/healthz\"]: namespaced rules cannot apply to non-resource URLs"}},
		{name: "cluster role with non-resource URL", kind: "ClusterRole", obj: &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "probe"}, Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}}},
		{name: "binding to an unknown kind", kind: "RoleBinding", obj: &rbacv1.RoleBinding{ObjectMeta: meta,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Group", Name: "edit"}},
			want: []string{`roleRef.kind: Unsupported value: "Group": supported values: "Role", "ClusterRole"`}},
		{name: "cluster binding to a Role", kind: "ClusterRoleBinding", obj: &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "b"},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "edit"}},
			want: []string{`roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`}},
		{name: "service account subject without namespace in a cluster binding", kind: "ClusterRoleBinding", obj: &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "b"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default"}}},
			want: []string{"subjects[0].namespace: Required value"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := kind(tt.kind)(ctx, tt.obj)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestBindingRow(t *testing.T) {
	row := bindingRow(metav1.Now(), rbacv1.RoleRef{Kind: "ClusterRole", Name: "edit"}, []rbacv1.Subject{
		{Kind: rbacv1.UserKind, Name: "alice"}, {Kind: rbacv1.UserKind, Name: "bob"},
		{Kind: rbacv1.GroupKind, Name: "ml-team"}, {Kind: rbacv1.ServiceAccountKind, Namespace: "ci", Name: "deployer"},
	})
	want := []interface{}{"ClusterRole/edit", "0s", "alice, bob", "ml-team", "ci/deployer"}
	for i := range want {
		if row[i] != want[i] {
			t.Errorf("cell %d = %v, want %v (row %v)", i, row[i], want[i], row)
		}
	}
}
