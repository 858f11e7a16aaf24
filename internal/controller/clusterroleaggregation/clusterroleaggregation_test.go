package clusterroleaggregation

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func role(name string, lbls map[string]string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}, Rules: rules}
}

func aggregated(name string, sel ...map[string]string) *rbacv1.ClusterRole {
	r := role(name, nil)
	r.AggregationRule = &rbacv1.AggregationRule{}
	for _, s := range sel {
		r.AggregationRule.ClusterRoleSelectors = append(r.AggregationRule.ClusterRoleSelectors, metav1.LabelSelector{MatchLabels: s})
	}
	return r
}

var (
	getPods  = rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}
	editDeps = rbacv1.PolicyRule{Verbs: []string{"create", "update"}, APIGroups: []string{"apps"}, Resources: []string{"deployments"}}
	readCRs  = rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{"example.com"}, Resources: []string{"widgets"}}
	toEdit   = map[string]string{"rbac.authorization.k8s.io/aggregate-to-edit": "true"}
	toView   = map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}
)

func TestAggregate(t *testing.T) {
	for _, tt := range []struct {
		name    string
		role    *rbacv1.ClusterRole
		all     []*rbacv1.ClusterRole
		want    []rbacv1.PolicyRule
		ok, err bool
	}{
		{name: "not aggregated", role: role("plain", nil, getPods), ok: false},
		{name: "nothing matches: no rules, not nil", role: aggregated("edit", toEdit),
			all: []*rbacv1.ClusterRole{role("other", toView, getPods)}, want: []rbacv1.PolicyRule{}, ok: true},
		{name: "matched roles in name order, duplicates once", role: aggregated("edit", toEdit),
			all:  []*rbacv1.ClusterRole{role("z-chart", toEdit, readCRs, getPods), role("a-core", toEdit, getPods, editDeps), role("view-only", toView, readCRs)},
			want: []rbacv1.PolicyRule{getPods, editDeps, readCRs}, ok: true},
		{name: "several selectors: union", role: aggregated("admin", toEdit, toView),
			all:  []*rbacv1.ClusterRole{role("e", toEdit, editDeps), role("v", toView, readCRs)},
			want: []rbacv1.PolicyRule{editDeps, readCRs}, ok: true},
		{name: "a role never aggregates itself", role: func() *rbacv1.ClusterRole {
			r := aggregated("self", toEdit)
			r.Labels = toEdit
			r.Rules = []rbacv1.PolicyRule{getPods}
			return r
		}(),
			all: []*rbacv1.ClusterRole{}, want: []rbacv1.PolicyRule{}, ok: true},
		{name: "bad selector", role: func() *rbacv1.ClusterRole {
			r := aggregated("bad")
			r.AggregationRule.ClusterRoleSelectors = []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Bogus"}}}}
			return r
		}(), ok: true, err: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := Aggregate(tt.role, tt.all)
			if (err != nil) != tt.err || ok != tt.ok {
				t.Fatalf("Aggregate: ok=%v err=%v, want ok=%v err=%v", ok, err, tt.ok, tt.err)
			}
			if !tt.err && tt.ok && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rules = %v, want %v", got, tt.want)
			}
		})
	}
}
