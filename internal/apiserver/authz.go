package apiserver

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/authorization/union"
	"k8s.io/client-go/informers"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/kubernetes/pkg/auth/nodeidentifier"
	rbacregistryvalidation "k8s.io/kubernetes/pkg/registry/rbac/validation"
	"k8s.io/kubernetes/plugin/pkg/auth/authorizer/node"
	"k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac"
	"k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy"
)

// authorization is kube-apiserver's default authorization (modes Node,
// RBAC) behind the privileged group system:masters, over informers of the
// API server's own loopback client.
type authorization struct {
	authorizer authorizer.Authorizer
	// rules answers SelfSubjectRulesReview: what the Node and RBAC
	// authorizers grant a user.
	rules authorizer.RuleResolver
	// rbacRules resolves RBAC rules alone: the escalation check of role and
	// binding writes.
	rbacRules           rbacregistryvalidation.AuthorizationRuleResolver
	clusterRoleBindings rbaclisters.ClusterRoleBindingLister
	clusterRoles        rbaclisters.ClusterRoleLister
	roleBindings        rbaclisters.RoleBindingLister
	// synced reports whether the informers behind the decisions have
	// synced; until then RBAC denies what it cannot see.
	synced []cache.InformerSynced
}

// AuthorizationOptions choose the authorizers, as kube-apiserver's flag.
type AuthorizationOptions struct {
	// AuthorizationModes are the authorizers in order, as kube-apiserver's
	// --authorization-mode: Node, RBAC and AlwaysAllow (every
	// authenticated user may do everything: for benchmarks and
	// single-user setups). Empty means Node,RBAC. Members of
	// system:masters may always do everything.
	AuthorizationModes []string
}

// Authorization modes.
const (
	ModeNode        = "Node"
	ModeRBAC        = "RBAC"
	ModeAlwaysAllow = "AlwaysAllow"
)

func newAuthorization(factory informers.SharedInformerFactory, opts AuthorizationOptions) (*authorization, error) {
	rbacInf := factory.Rbac().V1()
	roles := &rbac.RoleGetter{Lister: rbacInf.Roles().Lister()}
	roleBindings := &rbac.RoleBindingLister{Lister: rbacInf.RoleBindings().Lister()}
	clusterRoles := &rbac.ClusterRoleGetter{Lister: rbacInf.ClusterRoles().Lister()}
	clusterRoleBindings := &rbac.ClusterRoleBindingLister{Lister: rbacInf.ClusterRoleBindings().Lister()}
	rbacAuthorizer := rbac.New(roles, roleBindings, clusterRoles, clusterRoleBindings)

	// The Node authorizer's graph of which node runs which pod, and so may
	// read which Secrets, ConfigMaps, claims, volumes and service accounts,
	// kept by Kubernetes' populator (resource.k8s.io and
	// PodCertificateRequests are not served: no ResourceSlice or request
	// edges).
	graph := node.NewGraph()
	core, storage := factory.Core().V1(), factory.Storage().V1()
	node.AddGraphEventHandlers(graph, core.Nodes(), core.Pods(), core.PersistentVolumes(), storage.VolumeAttachments(), nil, nil)
	nodeAuthorizer := node.NewAuthorizer(graph, nodeidentifier.NewDefaultNodeIdentifier(), bootstrappolicy.NodeRules())

	modes := opts.AuthorizationModes
	if len(modes) == 0 {
		modes = []string{ModeNode, ModeRBAC}
	}
	// Named as kube-apiserver names them: the names prefix the reasons of
	// a refusal ("node: no relationship found ...").
	authorizers := []union.NamedAuthorizer{{AuthorizerName: "kubernetes.io/system-privileged-group",
		Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)}}
	var resolvers []authorizer.RuleResolver
	for _, m := range modes {
		switch m {
		case ModeNode:
			authorizers = append(authorizers, union.NamedAuthorizer{AuthorizerName: "node", Authorizer: nodeAuthorizer})
			resolvers = append(resolvers, nodeAuthorizer)
		case ModeRBAC:
			authorizers = append(authorizers, union.NamedAuthorizer{AuthorizerName: "rbac", Authorizer: rbacAuthorizer})
			resolvers = append(resolvers, rbacAuthorizer)
		case ModeAlwaysAllow:
			always := authorizerfactory.NewAlwaysAllowAuthorizer()
			authorizers = append(authorizers, union.NamedAuthorizer{AuthorizerName: "alwaysallow", Authorizer: always})
			resolvers = append(resolvers, always)
		default:
			return nil, fmt.Errorf("authorization mode %q: want %s, %s or %s", m, ModeNode, ModeRBAC, ModeAlwaysAllow)
		}
	}
	chain, err := union.New(authorizers...)
	if err != nil {
		return nil, fmt.Errorf("authorizer chain: %w", err)
	}
	return &authorization{
		authorizer:          chain,
		rules:               union.NewRuleResolvers(resolvers...),
		clusterRoleBindings: rbacInf.ClusterRoleBindings().Lister(),
		rbacRules:           rbacregistryvalidation.NewDefaultRuleResolver(roles, roleBindings, clusterRoles, clusterRoleBindings),
		clusterRoles:        rbacInf.ClusterRoles().Lister(),
		roleBindings:        rbacInf.RoleBindings().Lister(),
		synced: []cache.InformerSynced{
			core.Pods().Informer().HasSynced, core.PersistentVolumes().Informer().HasSynced,
			storage.VolumeAttachments().Informer().HasSynced,
			rbacInf.Roles().Informer().HasSynced, rbacInf.RoleBindings().Informer().HasSynced,
			rbacInf.ClusterRoles().Informer().HasSynced, rbacInf.ClusterRoleBindings().Informer().HasSynced,
		},
	}, nil
}

// waitFor waits until the authorizer's informers have synced and hold
// every ClusterRole, ClusterRoleBinding and RoleBinding of policy.
func (a *authorization) waitFor(ctx context.Context, policy Policy) error {
	if !cache.WaitForCacheSync(ctx.Done(), a.synced...) {
		return fmt.Errorf("authorization informers did not sync: %w", ctx.Err())
	}
	return wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		for _, r := range policy.ClusterRoles {
			if _, err := a.clusterRoles.Get(r.Name); err != nil {
				return false, nil //nolint:nilerr // not seen yet: poll again
			}
		}
		for _, b := range policy.ClusterRoleBindings {
			if _, err := a.clusterRoleBindings.Get(b.Name); err != nil {
				return false, nil //nolint:nilerr // not seen yet: poll again
			}
		}
		for ns, bindings := range policy.NamespaceRoleBindings {
			for _, b := range bindings {
				if _, err := a.roleBindings.RoleBindings(ns).Get(b.Name); err != nil {
					return false, nil //nolint:nilerr // not seen yet: poll again
				}
			}
		}
		return true, nil
	})
}
