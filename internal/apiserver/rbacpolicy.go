package apiserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes"
	"k8s.io/component-helpers/auth/rbac/reconciliation"
	"k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy"

	"skiff.dev/skiff/internal/wellknown"
)

// Policy is the RBAC policy every cluster starts with: Kubernetes'
// bootstrap policy (cluster-admin, admin, edit, view, the system: roles
// and bindings of the controllers, scheduler, nodes, discovery,
// public-info-viewer, basic-user) plus skiff's roles for its node
// components.
type Policy struct {
	ClusterRoles          []rbacv1.ClusterRole
	ClusterRoleBindings   []rbacv1.ClusterRoleBinding
	NamespaceRoles        map[string][]rbacv1.Role
	NamespaceRoleBindings map[string][]rbacv1.RoleBinding
}

// BootstrapPolicy returns the policy reconciled at every start.
func BootstrapPolicy() Policy {
	p := Policy{
		ClusterRoles:          append(bootstrappolicy.ClusterRoles(), bootstrappolicy.ControllerRoles()...),
		ClusterRoleBindings:   append(bootstrappolicy.ClusterRoleBindings(), bootstrappolicy.ControllerRoleBindings()...),
		NamespaceRoles:        map[string][]rbacv1.Role{},
		NamespaceRoleBindings: map[string][]rbacv1.RoleBinding{},
	}
	// Copies: upstream returns its package's own maps.
	for ns, roles := range bootstrappolicy.NamespaceRoles() {
		p.NamespaceRoles[ns] = append([]rbacv1.Role(nil), roles...)
	}
	for ns, bindings := range bootstrappolicy.NamespaceRoleBindings() {
		p.NamespaceRoleBindings[ns] = append([]rbacv1.RoleBinding(nil), bindings...)
	}
	read := []string{"get", "list", "watch"}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"},
			Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: "true"}}
	}
	nodes := []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: user.NodesGroup}}
	p.ClusterRoles = append(p.ClusterRoles, rbacv1.ClusterRole{
		ObjectMeta: meta(wellknown.NodeComponentsClusterRole),
		Rules: []rbacv1.PolicyRule{
			{Verbs: read, APIGroups: []string{""}, Resources: []string{"nodes", "pods", "namespaces", "services", "endpoints"}},
			// The local-path volumes: a node removes the directory of a deleted PV.
			{Verbs: read, APIGroups: []string{""}, Resources: []string{"persistentvolumes"}},
			{Verbs: read, APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}},
			{Verbs: read, APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}},
		},
	})
	p.ClusterRoleBindings = append(p.ClusterRoleBindings, rbacv1.ClusterRoleBinding{
		ObjectMeta: meta(wellknown.NodeComponentsClusterRole),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: wellknown.NodeComponentsClusterRole},
		Subjects:   nodes,
	})
	// The API server's client certificate for the kubelets' port (logs,
	// exec, port-forward, stats) may do everything there, as kubeadm binds it.
	p.ClusterRoleBindings = append(p.ClusterRoleBindings, rbacv1.ClusterRoleBinding{
		ObjectMeta: meta(wellknown.KubeletAPIAdminBinding),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:kubelet-api-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: wellknown.KubeletClientCommonName}},
	})
	ns := metav1.NamespaceSystem
	p.NamespaceRoles[ns] = append(p.NamespaceRoles[ns], rbacv1.Role{
		ObjectMeta: withNamespace(meta(wellknown.ClusterNetworkReaderRole), ns),
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"},
			ResourceNames: []string{wellknown.ClusterNetworkConfigMapName}}},
	})
	p.NamespaceRoleBindings[ns] = append(p.NamespaceRoleBindings[ns], rbacv1.RoleBinding{
		ObjectMeta: withNamespace(meta(wellknown.ClusterNetworkReaderRole), ns),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: wellknown.ClusterNetworkReaderRole},
		Subjects:   nodes,
	})
	return p
}

func withNamespace(m metav1.ObjectMeta, ns string) metav1.ObjectMeta {
	m.Namespace = ns
	return m
}

// Ensure reconciles the policy as kube-apiserver does at start: missing
// roles and bindings are created, missing rules and subjects added, and
// nothing a user added is removed; an object annotated
// rbac.authorization.kubernetes.io/autoupdate=false is left alone. It
// retries until ctx ends, since the API may not answer yet.
func (p Policy) Ensure(ctx context.Context, client kubernetes.Interface) error {
	var last error
	err := wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(context.Context) (bool, error) {
		last = p.reconcile(client)
		return last == nil, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("reconcile RBAC bootstrap policy: %w", last)
	}
	return err
}

func (p Policy) reconcile(client kubernetes.Interface) error {
	var errs []error
	for i := range p.ClusterRoles {
		opts := reconciliation.ReconcileRoleOptions{
			Role:    reconciliation.ClusterRoleRuleOwner{ClusterRole: &p.ClusterRoles[i]},
			Client:  reconciliation.ClusterRoleModifier{Client: client.RbacV1().ClusterRoles()},
			Confirm: true,
		}
		if _, err := opts.Run(); err != nil {
			errs = append(errs, fmt.Errorf("clusterrole %s: %w", p.ClusterRoles[i].Name, err))
		}
	}
	for i := range p.ClusterRoleBindings {
		opts := reconciliation.ReconcileRoleBindingOptions{
			RoleBinding: reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: &p.ClusterRoleBindings[i]},
			Client:      reconciliation.ClusterRoleBindingClientAdapter{Client: client.RbacV1().ClusterRoleBindings()},
			Confirm:     true,
		}
		if _, err := opts.Run(); err != nil {
			errs = append(errs, fmt.Errorf("clusterrolebinding %s: %w", p.ClusterRoleBindings[i].Name, err))
		}
	}
	namespaces := client.CoreV1().Namespaces()
	for _, roles := range p.NamespaceRoles {
		for i := range roles {
			opts := reconciliation.ReconcileRoleOptions{
				Role:    reconciliation.RoleRuleOwner{Role: &roles[i]},
				Client:  reconciliation.RoleModifier{Client: client.RbacV1(), NamespaceClient: namespaces},
				Confirm: true,
			}
			if _, err := opts.Run(); err != nil {
				errs = append(errs, fmt.Errorf("role %s/%s: %w", roles[i].Namespace, roles[i].Name, err))
			}
		}
	}
	for _, bindings := range p.NamespaceRoleBindings {
		for i := range bindings {
			opts := reconciliation.ReconcileRoleBindingOptions{
				RoleBinding: reconciliation.RoleBindingAdapter{RoleBinding: &bindings[i]},
				Client:      reconciliation.RoleBindingClientAdapter{Client: client.RbacV1(), NamespaceClient: namespaces},
				Confirm:     true,
			}
			if _, err := opts.Run(); err != nil {
				errs = append(errs, fmt.Errorf("rolebinding %s/%s: %w", bindings[i].Namespace, bindings[i].Name, err))
			}
		}
	}
	return errors.Join(errs...)
}
