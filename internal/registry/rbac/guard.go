package rbac

import (
	"context"
	"errors"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/kubernetes/pkg/apis/rbac"
	rbacregistry "k8s.io/kubernetes/pkg/registry/rbac"
	rbacregistryvalidation "k8s.io/kubernetes/pkg/registry/rbac/validation"

	"skiff.dev/skiff/internal/registry/store"
)

// Guard refuses writes of roles and bindings that would grant permissions
// the requesting user does not hold, as kube-apiserver's RBAC storage does:
// system:masters may write anything; a user with the escalate verb on
// roles, or the bind verb on the role a binding references, may too;
// anyone else only what their own rules already cover.
type Guard struct {
	// Authorizer answers the escalate and bind checks.
	Authorizer authorizer.UnconditionalAuthorizer
	// Rules resolves the rules a user holds and a roleRef grants.
	Rules rbacregistryvalidation.AuthorizationRuleResolver
}

type ruleSource func(ctx context.Context, obj runtime.Object, namespace string) ([]rbacv1.PolicyRule, error)

// guarded is a role or binding store whose creates and updates pass the
// escalation check first; every other verb is the store's own.
type guarded struct {
	*store.REST
	resource schema.GroupResource
	allowed  func(ctx context.Context, obj runtime.Object, namespace string) bool
	rules    ruleSource
	// aggregates, when set, reports whether a write sets, keeps or drops an
	// aggregationRule (old is nil on create): that gathers any rules, so it
	// needs full authority, as kube-apiserver requires.
	aggregates func(obj, old runtime.Object) bool
	guard      *Guard
}

// fullAuthority is what cluster-admin holds.
var fullAuthority = []rbacv1.PolicyRule{
	{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
	{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
}

func (g *Guard) roles(s *store.Storage) error {
	return g.wrap(s, "roles", roleAllowed(g), func(_ context.Context, obj runtime.Object, _ string) ([]rbacv1.PolicyRule, error) {
		return obj.(*rbacv1.Role).Rules, nil
	})
}

func (g *Guard) clusterRoles(s *store.Storage) error {
	err := g.wrap(s, "clusterroles", roleAllowed(g), func(_ context.Context, obj runtime.Object, _ string) ([]rbacv1.PolicyRule, error) {
		return obj.(*rbacv1.ClusterRole).Rules, nil
	})
	if err != nil {
		return err
	}
	s.Main.(*guarded).aggregates = func(obj, old runtime.Object) bool {
		aggregated := func(o runtime.Object) bool {
			role, ok := o.(*rbacv1.ClusterRole)
			return ok && role != nil && role.AggregationRule != nil && len(role.AggregationRule.ClusterRoleSelectors) > 0
		}
		return aggregated(obj) || (old != nil && aggregated(old))
	}
	return nil
}

func (g *Guard) roleBindings(s *store.Storage) error {
	return g.wrap(s, "rolebindings", bindAllowed(g, func(obj runtime.Object) rbacv1.RoleRef { return obj.(*rbacv1.RoleBinding).RoleRef }),
		func(ctx context.Context, obj runtime.Object, namespace string) ([]rbacv1.PolicyRule, error) {
			return g.Rules.GetRoleReferenceRules(ctx, obj.(*rbacv1.RoleBinding).RoleRef, namespace)
		})
}

func (g *Guard) clusterRoleBindings(s *store.Storage) error {
	return g.wrap(s, "clusterrolebindings", bindAllowed(g, func(obj runtime.Object) rbacv1.RoleRef { return obj.(*rbacv1.ClusterRoleBinding).RoleRef }),
		func(ctx context.Context, obj runtime.Object, _ string) ([]rbacv1.PolicyRule, error) {
			return g.Rules.GetRoleReferenceRules(ctx, obj.(*rbacv1.ClusterRoleBinding).RoleRef, "")
		})
}

func (g *Guard) wrap(s *store.Storage, resource string, allowed func(context.Context, runtime.Object, string) bool, rules ruleSource) error {
	main, ok := s.Main.(*store.REST)
	if !ok {
		return fmt.Errorf("escalation check of %s: storage is %T, not a store", resource, s.Main)
	}
	s.Main = &guarded{REST: main, resource: rbacv1.Resource(resource), allowed: allowed, rules: rules, guard: g}
	return nil
}

// roleAllowed: the escalate verb on the role resource lets a user write
// any rules.
func roleAllowed(g *Guard) func(context.Context, runtime.Object, string) bool {
	return func(ctx context.Context, _ runtime.Object, _ string) bool {
		return rbacregistry.RoleEscalationAuthorized(ctx, g.Authorizer)
	}
}

// bindAllowed: the bind verb on the referenced role lets a user bind it.
func bindAllowed(g *Guard, ref func(runtime.Object) rbacv1.RoleRef) func(context.Context, runtime.Object, string) bool {
	return func(ctx context.Context, obj runtime.Object, namespace string) bool {
		r := ref(obj)
		return rbacregistry.BindingAuthorized(ctx, rbac.RoleRef{APIGroup: r.APIGroup, Kind: r.Kind, Name: r.Name}, namespace, g.Authorizer)
	}
}

// check returns nil when the requesting user may write obj (old is the
// stored object on update, nil on create).
func (g *guarded) check(ctx context.Context, obj, old runtime.Object) error {
	namespace := genericapirequest.NamespaceValue(ctx)
	if g.allowed(ctx, obj, namespace) {
		return nil
	}
	rules, err := g.rules(ctx, obj, namespace)
	if err != nil {
		return err
	}
	name := ""
	if m, ok := obj.(metav1.Object); ok {
		name = m.GetName()
	}
	if err := rbacregistryvalidation.ConfirmNoEscalation(ctx, g.guard.Rules, rules); err != nil {
		return apierrors.NewForbidden(g.resource, name, err)
	}
	if g.aggregates != nil && g.aggregates(obj, old) {
		if err := rbacregistryvalidation.ConfirmNoEscalation(ctx, g.guard.Rules, fullAuthority); err != nil {
			return apierrors.NewForbidden(g.resource, name, errors.New("must have cluster-admin privileges to use the aggregationRule"))
		}
	}
	return nil
}

// Create implements rest.Creater.
func (g *guarded) Create(ctx context.Context, obj runtime.Object, validate rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	if !rbacregistry.EscalationAllowed(ctx) {
		if err := g.check(ctx, obj, nil); err != nil {
			return nil, err
		}
	}
	return g.REST.Create(ctx, obj, validate, options)
}

// Update implements rest.Updater.
func (g *guarded) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions,
) (runtime.Object, bool, error) {
	if !rbacregistry.EscalationAllowed(ctx) {
		objInfo = rest.WrapUpdatedObjectInfo(objInfo, func(ctx context.Context, obj, old runtime.Object) (runtime.Object, error) {
			// Finalizers and ownerReferences alone grant nothing.
			if old != nil && rbacregistry.IsOnlyMutatingGCFields(obj, old, equality.Semantic) {
				return obj, nil
			}
			if err := g.check(ctx, obj, old); err != nil {
				return nil, err
			}
			return obj, nil
		})
	}
	return g.REST.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
}
