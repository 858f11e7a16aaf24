package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Issue 12's Pod Security: Pod Security admission by namespace labels, and
// the kubelet running containers with their securityContext, on both real
// runtimes.

func TestPodSecurityProcess(t *testing.T) { runPodSecuritySuite(t, "process") }

func TestPodSecurityCRI(t *testing.T) { runPodSecuritySuite(t, "cri") }

// privilegedPod is a pod manifest whose container c is privileged.
func (n *nodeSuite) privilegedPod(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  containers:
  - name: c
    image: localhost/skiff/model-server:v2
    command: [%q, "-c", "sleep 3600"]
    securityContext:
      privileged: true
`, name, n.shell)
}

func runPodSecuritySuite(t *testing.T, rt string) {
	ranges := map[string][]string{
		"process": {"--cluster-cidr", "10.172.0.0/16", "--service-cidr", "10.173.0.0/16"},
		"cri":     {"--cluster-cidr", "10.174.0.0/16", "--service-cidr", "10.175.0.0/16"},
	}
	n := startNodeSuite(t, rt, ranges[rt]...)
	s, c := n.s, n.s.client()
	ctx := context.Background()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pods:\n%s", s.kubectl("", nil, "get", "pods", "-A", "-o", "wide").Stdout)
		}
	})

	// enforce=restricted refuses a privileged pod with Kubernetes' message.
	s.ok("create", "namespace", "locked")
	s.ok("label", "namespace", "locked", "pod-security.kubernetes.io/enforce=restricted")
	r := s.kubectl(n.privilegedPod("priv"), nil, "apply", "-n", "locked", "-f", "-")
	const forbidden = `Error from server (Forbidden): error when creating "STDIN": pods "priv" is forbidden: ` +
		`violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true), ` +
		`allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ` +
		`unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ` +
		`runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ` +
		`seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`
	if r.Code == 0 || strings.TrimSpace(r.Stderr) != forbidden {
		t.Errorf("kubectl apply of a privileged pod in a restricted namespace: exit %d, stderr:\n%s\nwant:\n%s", r.Code, r.Stderr, forbidden)
	}

	// warn=baseline admits it with kubectl's Warning line; the privileged
	// pod runs; enforcing baseline then warns about it.
	s.ok("create", "namespace", "warned")
	s.ok("label", "namespace", "warned", "pod-security.kubernetes.io/warn=baseline")
	r = s.kubectl(n.privilegedPod("priv"), nil, "apply", "-n", "warned", "-f", "-")
	const warning = `Warning: would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`
	if r.Code != 0 || !strings.Contains(r.Stderr, warning) {
		t.Errorf("kubectl apply in a warn=baseline namespace: exit %d, stderr:\n%s\nwant %q", r.Code, r.Stderr, warning)
	}
	eventually(t, 90*time.Second, "the privileged pod Running", func() bool { return podRunning(t, n, "warned", "priv") })
	r = s.kubectl("", nil, "label", "namespace", "warned", "pod-security.kubernetes.io/enforce=baseline")
	for _, want := range []string{
		`Warning: existing pods in namespace "warned" violate the new PodSecurity enforce level "baseline:latest"`,
		`Warning: priv: privileged`,
	} {
		if r.Code != 0 || !strings.Contains(r.Stderr, want) {
			t.Errorf("kubectl label enforce=baseline: exit %d, stderr:\n%s\nwant %q", r.Code, r.Stderr, want)
		}
	}

	// runAsUser and runAsGroup: the container and kubectl exec run as them.
	user := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "as-user"}, Spec: corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](3000)},
		Containers:      []corev1.Container{n.shellContainer("c", "id; sleep 3600")},
	}}
	n.createPod("default", user)
	eventually(t, 90*time.Second, "pod as-user Running", func() bool { return podRunning(t, n, "default", "as-user") })
	idLine := regexp.MustCompile(`^uid=1000(\(\S+\))? gid=3000(\(\S+\))?`)
	if out := s.ok("exec", "as-user", "--", "id"); !idLine.MatchString(out) {
		t.Errorf("kubectl exec as-user -- id = %q, want uid=1000 gid=3000", out)
	}
	if out := s.ok("logs", "as-user"); !idLine.MatchString(out) {
		t.Errorf("the container's own id = %q, want uid=1000 gid=3000", out)
	}

	// runAsNonRoot on an image that runs as root (on the process runtime,
	// the agent's user: root here).
	nonRoot := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "non-root"}, Spec: corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
		Containers:      []corev1.Container{n.shellContainer("c", "sleep 3600")},
	}}
	n.createPod("default", nonRoot)
	eventually(t, 60*time.Second, "kubectl get pod non-root shows CreateContainerConfigError", func() bool {
		return regexp.MustCompile(`(?m)^non-root\s+0/1\s+CreateContainerConfigError\s+0\s`).MatchString(s.ok("get", "pod", "non-root"))
	})
	p, err := c.CoreV1().Pods("default").Get(ctx, "non-root", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msg := fmt.Sprintf(`Error: container has runAsNonRoot and image will run as root (pod: "non-root_default(%s)", container: c)`, p.UID)
	if out := s.ok("describe", "pod", "non-root"); !strings.Contains(out, msg) || !regexp.MustCompile(`Reason:\s+CreateContainerConfigError`).MatchString(out) {
		t.Errorf("kubectl describe pod non-root lacks %q and the waiting reason:\n%s", msg, out)
	}
}

// podRunning says whether the pod's containers all run.
func podRunning(t *testing.T, n *nodeSuite, ns, name string) bool {
	t.Helper()
	p, err := n.s.client().CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return len(p.Status.ContainerStatuses) > 0
}
