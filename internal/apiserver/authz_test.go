package apiserver

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

func TestAuthorizationModes(t *testing.T) {
	objs := []runtime.Object{
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: "team-a"},
			Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice", Namespace: "team-a"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "team-a"}, Spec: corev1.PodSpec{NodeName: "node-a",
			Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "mine"}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "team-a"}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-data"}},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-data"}, Spec: corev1.PersistentVolumeSpec{
			ClaimRef: &corev1.ObjectReference{Namespace: "team-a", Name: "data"},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "d", VolumeHandle: "h",
				NodePublishSecretRef: &corev1.SecretReference{Namespace: "team-a", Name: "csi-creds"}}}}},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-other"}},
	}
	alice := &user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}}
	admin := &user.DefaultInfo{Name: "admin", Groups: []string{user.SystemPrivilegedGroup}}
	nodeA := &user.DefaultInfo{Name: "system:node:node-a", Groups: []string{user.NodesGroup, user.AllAuthenticated}}
	get := func(u user.Info, resource, name string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: u, Verb: "get", Namespace: "team-a", Resource: resource, Name: name, ResourceRequest: true, APIVersion: "v1"}
	}
	clusterGet := func(u user.Info, resource, name string) authorizer.AttributesRecord {
		a := get(u, resource, name)
		a.Namespace = ""
		return a
	}
	for _, tt := range []struct {
		modes []string
		attrs authorizer.AttributesRecord
		want  authorizer.Decision
	}{
		{nil, get(admin, "secrets", "any"), authorizer.DecisionAllow},
		{nil, get(alice, "configmaps", "c"), authorizer.DecisionAllow},
		{nil, get(alice, "secrets", "mine"), authorizer.DecisionNoOpinion},
		{nil, get(nodeA, "secrets", "mine"), authorizer.DecisionAllow},
		{nil, get(nodeA, "secrets", "other"), authorizer.DecisionNoOpinion},
		// Through the pod's claim to its volume and the volume's secret.
		{nil, get(nodeA, "persistentvolumeclaims", "data"), authorizer.DecisionAllow},
		{nil, clusterGet(nodeA, "persistentvolumes", "pv-data"), authorizer.DecisionAllow},
		{nil, get(nodeA, "secrets", "csi-creds"), authorizer.DecisionAllow},
		{nil, clusterGet(nodeA, "persistentvolumes", "pv-other"), authorizer.DecisionNoOpinion},
		{[]string{ModeRBAC}, get(nodeA, "secrets", "mine"), authorizer.DecisionNoOpinion},
		{[]string{ModeAlwaysAllow}, get(alice, "secrets", "mine"), authorizer.DecisionAllow},
	} {
		client := fake.NewClientset(objs...)
		factory := informers.NewSharedInformerFactory(client, 0)
		a, err := newAuthorization(factory, AuthorizationOptions{AuthorizationModes: tt.modes})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		factory.Start(ctx.Done())
		if !cache.WaitForCacheSync(ctx.Done(), a.synced...) {
			t.Fatal("informers did not sync")
		}
		// The Node authorizer's graph follows its informers' events.
		var got authorizer.Decision
		var reason string
		_ = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
			got, reason, _ = a.authorizer.Authorize(ctx, tt.attrs)
			return got == tt.want, nil
		})
		if got != tt.want {
			t.Errorf("modes %v: %s %s/%s by %s = %v (%s), want %v", tt.modes, tt.attrs.Verb, tt.attrs.Resource, tt.attrs.Name, tt.attrs.User.GetName(), got, reason, tt.want)
		}
		cancel()
		factory.Shutdown()
	}
	if _, err := newAuthorization(informers.NewSharedInformerFactory(fake.NewClientset(), 0), AuthorizationOptions{AuthorizationModes: []string{"ABAC"}}); err == nil {
		t.Error("mode ABAC accepted")
	}
}

func TestBootstrapPolicy(t *testing.T) {
	p := BootstrapPolicy()
	names := map[string]bool{}
	for _, r := range p.ClusterRoles {
		names[r.Name] = true
	}
	for _, want := range []string{"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery", "system:public-info-viewer",
		"system:node", "system:kube-scheduler", "system:kube-controller-manager", "system:controller:deployment-controller", "system:skiff:node-components"} {
		if !names[want] {
			t.Errorf("no ClusterRole %s", want)
		}
	}
	found := false
	for _, b := range p.NamespaceRoleBindings["kube-system"] {
		found = found || b.Name == "system:skiff:cluster-network-reader"
	}
	if !found {
		t.Error("no RoleBinding kube-system/system:skiff:cluster-network-reader")
	}
}
