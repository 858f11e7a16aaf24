package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/join"
	"skiff.dev/skiff/internal/pki"
)

// userKubeconfig writes a kubeconfig for a user authenticated by a client
// certificate the cluster CA signs (CommonName user, Organization groups),
// as an administrator hands one out, and returns its KUBECONFIG setting.
func userKubeconfig(t *testing.T, s *server, user string, groups ...string) []string {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(filepath.Join(s.dataDir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, user+".crt"), filepath.Join(dir, user+".key")
	if err := ca.EnsureLeaf(cert, key, pki.Leaf{CommonName: user, Organization: groups}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kubeconfig.yaml")
	err = pki.Kubeconfig{Server: fmt.Sprintf("https://127.0.0.1:%d", s.port), CAFile: filepath.Join(s.dataDir, "tls", "ca.crt"),
		CertFile: cert, KeyFile: key, Name: user}.Write(path)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"KUBECONFIG=" + path}
}

// seedDeployment is the seed's Deployment manifest moved to namespace ns.
func seedDeployment(t *testing.T, ns string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(manifests(), "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "namespace: production", "namespace: "+ns)
}

// TestRBAC: a user bound to edit in one namespace works there and nowhere
// else, `kubectl auth can-i --list` shows it, and RBAC refuses her a
// binding that would grant more than she holds.
func TestRBAC(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice := userKubeconfig(t, s, "alice")

	// Kubernetes' bootstrap policy is there from the start.
	roles := s.ok("get", "clusterroles")
	for _, want := range []string{"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
		"system:public-info-viewer", "system:node", "system:kube-scheduler", "system:controller:deployment-controller"} {
		if !strings.Contains(roles, "\n"+want+" ") {
			t.Errorf("kubectl get clusterroles: no %s in\n%s", want, roles)
		}
	}
	if out := s.ok("get", "clusterrolebinding", "cluster-admin", "-o", "wide"); !strings.Contains(out, "system:masters") {
		t.Errorf("cluster-admin binding:\n%s", out)
	}
	if out := s.kubectl("", alice, "auth", "whoami"); out.Code != 0 || !strings.Contains(out.Stdout, "alice") {
		t.Errorf("kubectl auth whoami as alice: %+v", out)
	}

	s.ok("create", "namespace", "team-a")
	s.ok("create", "namespace", "team-b")
	s.ok("create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice", "-n", "team-a")

	// edit is an aggregated role: the aggregation controller fills it.
	eventually(t, 30*time.Second, "alice may create the seed's Deployment in team-a", func() bool {
		return s.kubectl(seedDeployment(t, "team-a"), alice, "apply", "-f", "-").Code == 0
	})
	if out := s.ok("get", "deployment", "ml-model", "-n", "team-a", "-o", "name"); strings.TrimSpace(out) != "deployment.apps/ml-model" {
		t.Errorf("deployment in team-a: %q", out)
	}
	r := s.kubectl(seedDeployment(t, "team-b"), alice, "apply", "-f", "-")
	if want := `User "alice" cannot get resource "deployments" in API group "apps" in the namespace "team-b"`; r.Code == 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("apply in team-b as alice: exit %d, stderr %q, want %q", r.Code, r.Stderr, want)
	}
	r = s.kubectl("", alice, "get", "nodes")
	if want := `Error from server (Forbidden): nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope`; r.Code != 1 || strings.TrimSpace(r.Stderr) != want {
		t.Errorf("get nodes as alice: exit %d, stderr %q, want %q", r.Code, r.Stderr, want)
	}

	// can-i --list (asked by the administrator for alice) matches what she
	// can do.
	list := s.ok("auth", "can-i", "--list", "-n", "team-a", "--as", "alice")
	wantLine := "deployments.apps                                []                  []               [create delete deletecollection get list patch update watch]"
	if !strings.Contains(list, "deployments.apps") || !strings.Contains(list, "[create delete deletecollection get list patch update watch]") {
		t.Errorf("can-i --list -n team-a --as alice: want a line like %q in\n%s", wantLine, list)
	}
	if strings.Contains(list, "\nnodes ") || strings.Contains(list, "rolebindings") {
		t.Errorf("can-i --list shows rights alice lacks:\n%s", list)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "deployments", "-n", "team-a"}, "yes"},
		{[]string{"delete", "pods", "-n", "team-a"}, "yes"},
		{[]string{"create", "deployments", "-n", "team-b"}, "no"},
		{[]string{"list", "nodes"}, "no"},
		{[]string{"create", "rolebindings", "-n", "team-a"}, "no"},
	} {
		r := s.kubectl("", nil, append([]string{"auth", "can-i", "--as", "alice"}, c.args...)...)
		if strings.TrimSpace(r.Stdout) != c.want {
			t.Errorf("can-i %v --as alice = %q (exit %d), want %s", c.args, r.Stdout, r.Code, c.want)
		}
		// And alice asking for herself gets the same answer.
		if own := s.kubectl("", alice, append([]string{"auth", "can-i"}, c.args...)...); strings.TrimSpace(own.Stdout) != c.want {
			t.Errorf("alice's own can-i %v = %q, want %s", c.args, own.Stdout, c.want)
		}
	}

	// Escalation: allowed to write RoleBindings, alice still cannot bind
	// admin (which holds more than she does), but may bind view.
	s.ok("create", "role", "binding-writer", "--verb=create,get,list", "--resource=rolebindings.rbac.authorization.k8s.io", "-n", "team-a")
	s.ok("create", "rolebinding", "alice-binding-writer", "--role=binding-writer", "--user=alice", "-n", "team-a")
	eventually(t, 10*time.Second, "alice may create rolebindings", func() bool {
		return strings.TrimSpace(s.kubectl("", alice, "auth", "can-i", "create", "rolebindings", "-n", "team-a").Stdout) == "yes"
	})
	r = s.kubectl("", alice, "create", "rolebinding", "alice-admin", "--clusterrole=admin", "--user=alice", "-n", "team-a")
	if want := `rolebindings.rbac.authorization.k8s.io "alice-admin" is forbidden: user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held`; r.Code == 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("alice binding admin: exit %d, stderr %q, want %q", r.Code, r.Stderr, want)
	}
	if r := s.kubectl("", alice, "create", "rolebinding", "bob-view", "--clusterrole=view", "--user=bob", "-n", "team-a"); r.Code != 0 {
		t.Errorf("alice binding view: %+v", r)
	}
	// An aggregationRule gathers any rules: only who holds everything may
	// set one, even with the right to write ClusterRoles.
	s.ok("create", "clusterrole", "clusterrole-writer", "--verb=create,get,update,patch", "--resource=clusterroles.rbac.authorization.k8s.io")
	s.ok("create", "clusterrolebinding", "alice-clusterrole-writer", "--clusterrole=clusterrole-writer", "--user=alice")
	eventually(t, 10*time.Second, "alice may create clusterroles", func() bool {
		return strings.TrimSpace(s.kubectl("", alice, "auth", "can-i", "create", "clusterroles").Stdout) == "yes"
	})
	harvest := `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: harvest
aggregationRule:
  clusterRoleSelectors:
  - matchLabels:
      kubernetes.io/bootstrapping: rbac-defaults
`
	if r := s.kubectl(harvest, alice, "create", "-f", "-"); r.Code == 0 || !strings.Contains(r.Stderr, "must have cluster-admin privileges to use the aggregationRule") {
		t.Errorf("alice creating an aggregated ClusterRole: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if r := s.kubectl("", alice, "create", "clusterrole", "harvest", "--verb=create", "--resource=selfsubjectaccessreviews.authorization.k8s.io"); r.Code != 0 {
		t.Fatalf("alice creating a plain ClusterRole: %+v", r)
	}
	r = s.kubectl("", alice, "patch", "clusterrole", "harvest", "--type=merge", "-p",
		`{"aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"kubernetes.io/bootstrapping":"rbac-defaults"}}]}}`)
	if r.Code == 0 || !strings.Contains(r.Stderr, "must have cluster-admin privileges to use the aggregationRule") {
		t.Errorf("alice adding an aggregationRule: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// Impersonation needs the impersonate verb.
	r = s.kubectl("", alice, "get", "pods", "-n", "team-a", "--as", "bob")
	// (Kubernetes 1.37 asks for the constrained impersonate-on: verbs
	// first, and names them when both they and impersonate are missing.)
	if want := `User "alice" cannot impersonate`; r.Code == 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("alice --as bob: exit %d, stderr %q, want %q", r.Code, r.Stderr, want)
	}
	if out := s.ok("get", "pods", "-n", "team-a", "--as", "bob"); strings.Contains(out, "Forbidden") {
		t.Errorf("admin --as bob (view in team-a): %q", out)
	}
}

// TestNodeAuthorization: an agent's node credentials read only what its own
// pods use, cannot touch other nodes, and cannot set the labels reserved to
// administrators (the Node authorizer and NodeRestriction admission).
func TestNodeAuthorization(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	a := startAgent(t, s, "node-a", "--runtime", "fake")
	startAgent(t, s, "node-b", "--runtime", "fake")
	for _, n := range []string{"node-a", "node-b"} {
		eventually(t, 60*time.Second, n+" Ready", func() bool {
			return s.kubectl("", nil, "get", "node", n, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`).Stdout == "True"
		})
	}
	ctx := context.Background()
	c := s.client()
	s.ok("create", "namespace", "apps")
	for _, n := range []string{"a", "b"} {
		if _, err := c.CoreV1().Secrets("apps").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "secret-" + n},
			StringData: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "pod-" + n},
			Spec: corev1.PodSpec{
				NodeName:   "node-" + n,
				Containers: []corev1.Container{{Name: "c", Image: "model-server", VolumeMounts: []corev1.VolumeMount{{Name: "s", MountPath: "/s"}}}},
				Volumes:    []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "secret-" + n}}}},
			},
		}
		if _, err := c.CoreV1().Pods("apps").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The agents run their pods under their node identities.
	for _, n := range []string{"a", "b"} {
		eventually(t, 60*time.Second, "pod-"+n+" Running", func() bool {
			return s.kubectl("", nil, "get", "pod", "pod-"+n, "-n", "apps", "-o", "jsonpath={.status.phase}").Stdout == "Running"
		})
	}
	nodeA := []string{"KUBECONFIG=" + join.KubeconfigPath(a.dataDir)}
	if r := s.kubectl("", nodeA, "get", "secret", "secret-a", "-n", "apps", "-o", "name"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "secret/secret-a" {
		t.Errorf("node-a reading its pod's secret: %+v", r)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "secret", "secret-b", "-n", "apps"},
			`secrets "secret-b" is forbidden: User "system:node:node-a" cannot get resource "secrets" in API group "" in the namespace "apps": node: no relationship found between node 'node-a' and this object`},
		{[]string{"get", "secrets", "-n", "apps"}, `User "system:node:node-a" cannot list resource "secrets"`},
		{[]string{"delete", "node", "node-b"}, `nodes "node-b" is forbidden: User "system:node:node-a" cannot delete resource "nodes" in API group "" at the cluster scope`},
		{[]string{"label", "node", "node-b", "example.com/x=y"}, `node "node-a" is not allowed to modify node "node-b"`},
		{[]string{"label", "node", "node-a", "node-restriction.kubernetes.io/role=gpu"}, `is not allowed to modify labels: node-restriction.kubernetes.io/role`},
	} {
		r := s.kubectl("", nodeA, c.args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("node-a: kubectl %s: exit %d, stderr %q, want %q", strings.Join(c.args, " "), r.Code, r.Stderr, c.want)
		}
	}
	if r := s.kubectl("", nodeA, "label", "node", "node-a", "example.com/pool=a"); r.Code != 0 {
		t.Errorf("node-a labelling itself outside the reserved prefixes: %+v", r)
	}

	// A node gets tokens of its pods' service accounts only for the
	// audiences those pods name (ServiceAccountNodeAudienceRestriction).
	podA, err := c.CoreV1().Pods("apps").Get(ctx, "pod-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := func(extra ...string) []string {
		return append([]string{"create", "token", "default", "-n", "apps", "--bound-object-kind", "Pod",
			"--bound-object-name", "pod-a", "--bound-object-uid", string(podA.UID)}, extra...)
	}
	if r := s.kubectl("", nodeA, token()...); r.Code != 0 || strings.Count(r.Stdout, ".") != 2 {
		t.Errorf("node-a asking for its pod's token: %+v", r)
	}
	want := `system:node:node-a is not authorized to request tokens for audience "vault"`
	if r := s.kubectl("", nodeA, token("--audience", "vault")...); r.Code == 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("node-a asking for a token for an audience its pod does not name: exit %d, stderr %q, want %q", r.Code, r.Stderr, want)
	}
}
