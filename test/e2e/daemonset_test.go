package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

const daemonSetManifest = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: %[1]s
  namespace: ds
spec:
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      containers:
      - name: exporter
        image: prom/node-exporter:v1.8.0
%[2]s`

const gpuToleration = `      tolerations:
      - key: dedicated
        operator: Equal
        value: gpu
        effect: NoSchedule
`

// podsByNode maps each node to the names of the live pods of selector on it.
func podsByNode(t *testing.T, c kubernetes.Interface, ns, selector string) map[string][]string {
	out := map[string][]string{}
	for _, p := range livePods(t, c, ns, selector) {
		out[p.Spec.NodeName] = append(out[p.Spec.NodeName], p.Name)
	}
	return out
}

// onePodPerNode reports whether the pods of selector run Ready, exactly one
// on each of nodes and none elsewhere.
func onePodPerNode(t *testing.T, c kubernetes.Interface, ns, selector string, nodes ...string) bool {
	byNode := podsByNode(t, c, ns, selector)
	if len(byNode) != len(nodes) || !readyRunning(t, c, ns, selector, len(nodes)) {
		return false
	}
	for _, n := range nodes {
		if len(byNode[n]) != 1 {
			return false
		}
	}
	return true
}

func nodeReady(t *testing.T, c kubernetes.Interface, name string) bool {
	n, err := c.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// TestDaemonSet is issue 13's DaemonSet acceptance test on hollow nodes: one
// pod on each node, a node that joins later gets its own, a tainted node
// only for a DaemonSet that tolerates the taint, and rollout restart
// replaces every pod.
func TestDaemonSet(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--hollow-nodes", "3")
	c := s.client()
	ctx := context.Background()
	const ns, sel = "ds", "app=exporter"
	eventually(t, 30*time.Second, "3 nodes Ready", func() bool {
		return regexp.MustCompile(`(?m)(^hollow-\d\s+Ready\s.*\n?){3}`).MatchString(s.ok("get", "nodes", "--no-headers"))
	})
	s.ok("create", "namespace", ns)
	apply := func(name, extra string) {
		t.Helper()
		if r := s.kubectl(fmt.Sprintf(daemonSetManifest, name, extra), nil, "apply", "-f", "-"); r.Code != 0 {
			t.Fatalf("kubectl apply: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
	}
	apply("exporter", "")
	nodes := []string{"hollow-0", "hollow-1", "hollow-2"}
	// Agents that join run until the whole test ends, not their subtest.
	join := func(name string, extra ...string) {
		startAgent(t, s, name, append([]string{"--runtime", "fake", "--kubelet-port", fmt.Sprint(freePort(t))}, extra...)...)
	}

	t.Run("one pod on each node", func(t *testing.T) {
		s.ok("rollout", "status", "daemonset/exporter", "-n", ns, "--timeout=120s")
		eventually(t, 30*time.Second, "one Ready pod on each of the 3 nodes", func() bool { return onePodPerNode(t, c, ns, sel, nodes...) })
		if out := s.ok("get", "daemonset", "exporter", "-n", ns); !regexp.MustCompile(`(?m)^exporter\s+3\s+3\s+3\s+3\s+3\s+<none>\s+`).MatchString(out) {
			t.Errorf("kubectl get daemonset:\n%s", out)
		}
		// The controller adds the daemon tolerations Kubernetes gives them.
		p := livePods(t, c, ns, sel)[0]
		for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, corev1.TaintNodeUnschedulable, corev1.TaintNodeDiskPressure} {
			if !slices.ContainsFunc(p.Spec.Tolerations, func(tol corev1.Toleration) bool { return tol.Key == key }) {
				t.Errorf("pod %s has no toleration of %s: %v", p.Name, key, p.Spec.Tolerations)
			}
		}
	})

	t.Run("a node that joins gets its pod", func(t *testing.T) {
		join("late")
		nodes = append(nodes, "late")
		eventually(t, 60*time.Second, "a Ready pod on the node that joined", func() bool { return onePodPerNode(t, c, ns, sel, nodes...) })
	})

	t.Run("a tainted node only with a toleration", func(t *testing.T) {
		join("tainted", "--register-with-taints", "dedicated=gpu:NoSchedule")
		eventually(t, 60*time.Second, "node tainted Ready", func() bool { return nodeReady(t, c, "tainted") })
		// A DaemonSet that tolerates the taint gets a pod there; once it
		// has, the controller has seen the node, and the first one has not.
		apply("gpu-exporter", gpuToleration)
		eventually(t, 60*time.Second, "gpu-exporter on all 5 nodes", func() bool {
			return onePodPerNode(t, c, ns, "app=gpu-exporter", append(slices.Clone(nodes), "tainted")...)
		})
		if byNode := podsByNode(t, c, ns, sel); len(byNode["tainted"]) != 0 || len(byNode) != len(nodes) {
			t.Errorf("exporter pods by node %v, want none on the tainted node", byNode)
		}
		apply("exporter", gpuToleration)
		nodes = append(nodes, "tainted")
		eventually(t, 60*time.Second, "exporter, now tolerating the taint, on all 5 nodes", func() bool { return onePodPerNode(t, c, ns, sel, nodes...) })
		s.ok("rollout", "status", "daemonset/exporter", "-n", ns, "--timeout=120s")
	})

	t.Run("rollout restart replaces every pod", func(t *testing.T) {
		before := map[types.UID]bool{}
		for _, p := range livePods(t, c, ns, sel) {
			before[p.UID] = true
		}
		s.ok("rollout", "restart", "daemonset/exporter", "-n", ns)
		s.ok("rollout", "status", "daemonset/exporter", "-n", ns, "--timeout=120s")
		eventually(t, 60*time.Second, "5 new Ready pods, one per node", func() bool {
			if !onePodPerNode(t, c, ns, sel, nodes...) {
				return false
			}
			for _, p := range livePods(t, c, ns, sel) {
				if before[p.UID] || p.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
					return false
				}
			}
			return true
		})
		if out := s.ok("rollout", "history", "daemonset/exporter", "-n", ns); !regexp.MustCompile(`(?m)^1\s+<none>\n2\s+<none>\n3\s+<none>`).MatchString(out) {
			t.Errorf("rollout history:\n%s", out)
		}
		// kubectl warns that undo does not update the last-applied annotation.
		if r := s.kubectl("", nil, "rollout", "undo", "daemonset/exporter", "-n", ns); r.Code != 0 || !strings.Contains(r.Stdout, "daemonset.apps/exporter rolled back") {
			t.Fatalf("kubectl rollout undo: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		s.ok("rollout", "status", "daemonset/exporter", "-n", ns, "--timeout=120s")
		ds, err := c.AppsV1().DaemonSets(ns).Get(ctx, "exporter", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ds.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] != "" {
			t.Errorf("after undo the template still has restartedAt: %v", ds.Spec.Template.Annotations)
		}
	})
}
