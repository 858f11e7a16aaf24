package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/pki"
)

// kubeletPort is a node's kubelet server as the API server reaches it,
// with an HTTPS client that trusts only the cluster CA, as the API server
// does.
type kubeletPort struct {
	t    *testing.T
	base string
	ca   *pki.CA
}

func newKubeletPort(t *testing.T, s *server, node string) *kubeletPort {
	t.Helper()
	obj, err := s.client().CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadOrCreateCA(filepath.Join(s.dataDir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range obj.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return &kubeletPort{t: t, ca: ca, base: "https://" + net.JoinHostPort(a.Address, strconv.Itoa(int(obj.Status.DaemonEndpoints.KubeletEndpoint.Port)))}
		}
	}
	t.Fatalf("node %s has no InternalIP", node)
	return nil
}

// get GETs path as user in groups ("": anonymous) and returns the code and
// body.
func (k *kubeletPort) get(path, user string, groups ...string) (int, string) {
	k.t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(k.ca.Cert)
	cfg := &tls.Config{RootCAs: roots}
	if user != "" {
		cert, err := k.ca.TLSCertificate(pki.Leaf{CommonName: user, Organization: groups})
		if err != nil {
			k.t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}).Get(k.base + path)
	if err != nil {
		k.t.Fatalf("GET %s (the serving certificate must be the cluster CA's for the node's address): %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestKubeletPortAuth: the kubelet port serves a certificate of the
// cluster CA for the node's address, refuses anonymous callers (401) and
// callers it does not authorize (403, the kubelet's message), while the
// administrator's kubectl logs and exec through the API server work.
func TestKubeletPortAuth(t *testing.T) {
	n := startNodeSuite(t, "process")
	s := n.s
	n.createPod("default", &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "talk"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{n.shellContainer("app", "echo hello from talk; sleep 3600")}},
	})
	n.waitPod("default", "talk", 90*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	k := newKubeletPort(t, s, n.node)
	for _, path := range []string{"/pods", "/exec/default/talk/app?command=id&output=1", "/containerLogs/default/talk/app", "/stats/summary", "/healthz"} {
		if code, body := k.get(path, ""); code != http.StatusUnauthorized || body != "Unauthorized" {
			t.Errorf("anonymous GET %s: %d %q, want 401 Unauthorized", path, code, body)
		}
	}
	code, body := k.get("/pods", "bob", "developers")
	if want := "Forbidden (user=bob, verb=get, resource=nodes, subresource(s)=[pods proxy])\n"; code != http.StatusForbidden || body != want {
		t.Errorf("bob GET /pods: %d %q, want 403 %q", code, body, want)
	}
	if code, body := k.get("/pods", "kube-apiserver-kubelet-client"); code != http.StatusOK || !strings.Contains(body, `"name":"talk"`) {
		t.Errorf("the API server's client GET /pods: %d %.200s", code, body)
	}

	eventually(t, 30*time.Second, "kubectl logs talk", func() bool {
		return strings.Contains(s.kubectl("", nil, "logs", "talk").Stdout, "hello from talk")
	})
	if out := s.ok("exec", "talk", "--", n.shell, "-c", "echo exec works"); out != "exec works\n" {
		t.Errorf("kubectl exec: %q", out)
	}

	// A user may exec only with create on pods/exec (RBAC in the API
	// server, which then reaches the kubelet as itself).
	dave := userKubeconfig(t, s, "dave")
	s.ok("create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
	s.ok("create", "rolebinding", "dave-reader", "--role=pod-reader", "--user=dave")
	eventually(t, 10*time.Second, "dave reads pods", func() bool { return s.kubectl("", dave, "get", "pod", "talk").Code == 0 })
	r := s.kubectl("", dave, "exec", "talk", "--", n.shell, "-c", "echo exec works")
	if want := `pods "talk" is forbidden: User "dave" cannot create resource "pods/exec" in API group "" in the namespace "default"`; r.Code == 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("kubectl exec without pods/exec: exit %d, stderr %q, want %q", r.Code, r.Stderr, want)
	}
	s.ok("create", "role", "pod-exec", "--verb=create", "--resource=pods/exec")
	s.ok("create", "rolebinding", "dave-exec", "--role=pod-exec", "--user=dave")
	eventually(t, 10*time.Second, "dave may exec", func() bool {
		r := s.kubectl("", dave, "exec", "talk", "--", n.shell, "-c", "echo exec works")
		return r.Code == 0 && r.Stdout == "exec works\n"
	})
}

// TestKubeletPortReviews: the kubelet authorizes with the API server's
// SubjectAccessReview, so RBAC on nodes/proxy decides who reaches it.
func TestKubeletPortReviews(t *testing.T) {
	n := startNodeSuite(t, "process")
	c := n.s.client()
	ctx := context.Background()
	k := newKubeletPort(t, n.s, n.node)
	if code, body := k.get("/pods", "carol"); code != http.StatusForbidden {
		t.Fatalf("carol before any grant: %d %q, want 403", code, body)
	}
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "node-proxy-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes/proxy"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "carol-node-proxy"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "node-proxy-reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "carol"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The kubelet caches a denial for 30 s, as the kubelet's default.
	eventually(t, 60*time.Second, "carol reads /pods once granted nodes/proxy", func() bool {
		code, _ := k.get("/pods", "carol")
		return code == http.StatusOK
	})
	if code, body := k.get("/stats/summary", "carol"); code != http.StatusForbidden {
		t.Errorf("carol /stats/summary with nodes/proxy only: %d %q, want 403", code, body)
	}
	// The API server's own client is granted system:kubelet-api-admin
	// (ClusterRoleBinding to the user kube-apiserver-kubelet-client).
	for _, path := range []string{"/pods", "/stats/summary", "/metrics/resource"} {
		if code, body := k.get(path, "kube-apiserver-kubelet-client"); code != http.StatusOK {
			t.Errorf("the API server's client GET %s: %d %.200s", path, code, body)
		}
	}
}
