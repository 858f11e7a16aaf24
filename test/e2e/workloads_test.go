package e2e

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

const seedNS = "production"

// deploySeed creates the seed's namespace and secret and applies its manifests.
func deploySeed(t *testing.T, s *server) {
	t.Helper()
	s.ok("create", "namespace", seedNS)
	s.ok("create", "secret", "generic", "gcp-credentials", "--from-literal=project_id=demo", "-n", seedNS)
	s.ok("apply", "-f", manifests())
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// livePods lists the pods of ns matching selector that are not being deleted.
func livePods(t *testing.T, c kubernetes.Interface, ns, selector string) []corev1.Pod {
	t.Helper()
	list, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var live []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live
}

// readyRunning reports whether exactly n live pods match and all run Ready.
func readyRunning(t *testing.T, c kubernetes.Interface, ns, selector string, n int) bool {
	pods := livePods(t, c, ns, selector)
	if len(pods) != n {
		return false
	}
	for i := range pods {
		if pods[i].Status.Phase != corev1.PodRunning || !podReady(&pods[i]) {
			return false
		}
	}
	return true
}

// rolloutWatcher watches the pods of a namespace and records the smallest
// number of ready pods and the largest number of pods seen at any moment.
type rolloutWatcher struct {
	mu       sync.Mutex
	pods     map[string]*corev1.Pod
	minReady int
	maxPods  int
	w        watch.Interface
	done     chan struct{}
}

func watchRollout(t *testing.T, c kubernetes.Interface, ns, selector string) *rolloutWatcher {
	t.Helper()
	list, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{LabelSelector: selector, ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	r := &rolloutWatcher{pods: map[string]*corev1.Pod{}, minReady: 1 << 30, w: w, done: make(chan struct{})}
	for i := range list.Items {
		r.pods[list.Items[i].Name] = &list.Items[i]
	}
	r.measure()
	go func() {
		defer close(r.done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			r.mu.Lock()
			if ev.Type == watch.Deleted {
				delete(r.pods, p.Name)
			} else {
				r.pods[p.Name] = p
			}
			r.mu.Unlock()
			r.measure()
		}
	}()
	return r
}

// measure counts pods not being deleted, and the ready ones among them.
func (r *rolloutWatcher) measure() {
	r.mu.Lock()
	defer r.mu.Unlock()
	total, ready := 0, 0
	for _, p := range r.pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		total++
		if podReady(p) {
			ready++
		}
	}
	r.minReady = min(r.minReady, ready)
	r.maxPods = max(r.maxPods, total)
}

func (r *rolloutWatcher) stop() (minReady, maxPods int) {
	r.w.Stop()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.minReady, r.maxPods
}

// TestDeploymentLifecycle is issue 3's first acceptance test: the seed's
// deployment on three hollow nodes, rolled, rolled back, healed and deleted
// with upstream kubectl.
func TestDeploymentLifecycle(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--hollow-nodes", "3")
	c := s.client()
	ctx := context.Background()
	sel := "app=ml-model"
	eventually(t, 30*time.Second, "3 nodes Ready", func() bool {
		return regexp.MustCompile(`(?m)(^hollow-\d\s+Ready\s.*\n?){3}`).MatchString(s.ok("get", "nodes", "--no-headers"))
	})
	deploySeed(t, s)

	t.Run("3 pods running, one per node", func(t *testing.T) {
		s.ok("rollout", "status", "deployment/ml-model", "-n", seedNS, "--timeout=120s")
		eventually(t, 30*time.Second, "3 pods Running and Ready", func() bool { return readyRunning(t, c, seedNS, sel, 3) })
		nodes := map[string]bool{}
		for _, p := range livePods(t, c, seedNS, sel) {
			nodes[p.Spec.NodeName] = true
			if p.Status.PodIP == "" {
				t.Errorf("pod %s has no IP", p.Name)
			}
		}
		if len(nodes) != 3 {
			t.Errorf("pods on nodes %v, want one on each of 3 nodes", nodes)
		}
		out := s.ok("get", "pods", "-n", seedNS, "-o", "wide")
		if n := len(regexp.MustCompile(`(?m)^ml-model-[a-z0-9]+-[a-z0-9]{5}\s+1/1\s+Running\s+0\s+\S+\s+10\.42\.\d+\.\d+\s+hollow-\d`).FindAllString(out, -1)); n != 3 {
			t.Errorf("kubectl get pods -o wide shows %d running pods, want 3:\n%s", n, out)
		}
		out = s.ok("get", "deployment", "ml-model", "-n", seedNS)
		if !regexp.MustCompile(`(?m)^ml-model\s+3/3\s+3\s+3\s+`).MatchString(out) {
			t.Errorf("kubectl get deployment:\n%s", out)
		}
	})

	t.Run("set image rolls one pod at a time", func(t *testing.T) {
		w := watchRollout(t, c, seedNS, sel)
		s.ok("set", "image", "deployment/ml-model", "ml-model=gcr.io/my-project/ml-model:v3", "-n", seedNS)
		s.ok("rollout", "status", "deployment/ml-model", "-n", seedNS, "--timeout=180s")
		eventually(t, 30*time.Second, "3 v3 pods Ready", func() bool {
			if !readyRunning(t, c, seedNS, sel, 3) {
				return false
			}
			for _, p := range livePods(t, c, seedNS, sel) {
				if p.Spec.Containers[0].Image != "gcr.io/my-project/ml-model:v3" {
					return false
				}
			}
			return true
		})
		minReady, maxPods := w.stop()
		if minReady < 3 || maxPods > 4 {
			t.Errorf("during the rollout: at least %d ready and at most %d pods; want never fewer than 3 ready nor more than 4 pods", minReady, maxPods)
		}
	})

	t.Run("rollout history and undo", func(t *testing.T) {
		out := s.ok("rollout", "history", "deployment/ml-model", "-n", seedNS)
		if !regexp.MustCompile(`(?m)^REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>`).MatchString(out) {
			t.Errorf("rollout history:\n%s", out)
		}
		// kubectl warns, as against any cluster, that undo does not update
		// the last-applied annotation of an applied deployment.
		if r := s.kubectl("", nil, "rollout", "undo", "deployment/ml-model", "-n", seedNS); r.Code != 0 || !strings.Contains(r.Stdout, "deployment.apps/ml-model rolled back") {
			t.Fatalf("kubectl rollout undo: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		s.ok("rollout", "status", "deployment/ml-model", "-n", seedNS, "--timeout=180s")
		d, err := c.AppsV1().Deployments(seedNS).Get(ctx, "ml-model", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "gcr.io/my-project/ml-model:v2" {
			t.Errorf("after undo the template has image %s, want v2", img)
		}
		if rev := d.Annotations["deployment.kubernetes.io/revision"]; rev != "3" {
			t.Errorf("after undo revision %q, want 3", rev)
		}
		eventually(t, 60*time.Second, "3 v2 pods Ready", func() bool {
			if !readyRunning(t, c, seedNS, sel, 3) {
				return false
			}
			for _, p := range livePods(t, c, seedNS, sel) {
				if p.Spec.Containers[0].Image != "gcr.io/my-project/ml-model:v2" {
					return false
				}
			}
			return true
		})
		out = s.ok("rollout", "history", "deployment/ml-model", "-n", seedNS)
		if !regexp.MustCompile(`(?m)^2\s+<none>\n3\s+<none>`).MatchString(out) {
			t.Errorf("rollout history after undo:\n%s", out)
		}
	})

	t.Run("a deleted pod is replaced", func(t *testing.T) {
		victim := livePods(t, c, seedNS, sel)[0].Name
		s.ok("delete", "pod", victim, "-n", seedNS)
		eventually(t, 60*time.Second, "a replacement pod Ready", func() bool {
			if !readyRunning(t, c, seedNS, sel, 3) {
				return false
			}
			for _, p := range livePods(t, c, seedNS, sel) {
				if p.Name == victim {
					return false
				}
			}
			return true
		})
	})

	t.Run("deleting the deployment removes its replicasets and pods", func(t *testing.T) {
		s.ok("delete", "deployment", "ml-model", "-n", seedNS)
		eventually(t, 60*time.Second, "no replicasets and no pods", func() bool {
			rs, err := c.AppsV1().ReplicaSets(seedNS).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			pods, err := c.CoreV1().Pods(seedNS).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return len(rs.Items) == 0 && len(pods.Items) == 0
		})
	})

	t.Run("deleting the namespace removes everything", func(t *testing.T) {
		s.ok("apply", "-f", manifests())
		eventually(t, 60*time.Second, "pods again", func() bool { return len(livePods(t, c, seedNS, sel)) == 3 })
		s.ok("delete", "namespace", seedNS, "--timeout=120s")
		if _, err := c.CoreV1().Namespaces().Get(ctx, seedNS, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("namespace after kubectl delete: %v", err)
		}
		pods, err := c.CoreV1().Pods(seedNS).List(ctx, metav1.ListOptions{})
		if err != nil || len(pods.Items) != 0 {
			t.Errorf("pods left in the deleted namespace: %d (%v)", len(pods.Items), err)
		}
		if r := s.kubectl("", nil, "get", "all", "-n", seedNS); strings.TrimSpace(r.Stdout) != "" || !strings.Contains(r.Stderr, "No resources found") {
			t.Errorf("kubectl get all after deleting the namespace:\n%s%s", r.Stdout, r.Stderr)
		}
	})
}

// gpuPod requests one nvidia.com/gpu.
const gpuPod = `apiVersion: v1
kind: Pod
metadata:
  name: trainer
spec:
  containers:
  - name: train
    image: localhost/skiff/model-server:v1
    resources:
      limits:
        nvidia.com/gpu: 1
`

// TestGPUPodWaitsForGPUNode is issue 3's second acceptance test.
func TestGPUPodWaitsForGPUNode(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--hollow-nodes", "3")
	c := s.client()
	ctx := context.Background()
	eventually(t, 30*time.Second, "3 nodes", func() bool {
		nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		return err == nil && len(nodes.Items) == 3
	})
	s.kubectl(gpuPod, nil, "apply", "-f", "-")
	want := "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
	eventually(t, 30*time.Second, "the FailedScheduling event", func() bool {
		out := s.ok("get", "events", "--field-selector", "involvedObject.name=trainer,reason=FailedScheduling", "-o", "jsonpath={.items[*].message}")
		return strings.Contains(out, want)
	})
	if out := s.ok("describe", "pod", "trainer"); !strings.Contains(out, "FailedScheduling") || !strings.Contains(out, want) {
		t.Errorf("kubectl describe pod does not show the FailedScheduling event:\n%s", out)
	}
	if out := s.ok("get", "pod", "trainer", "--no-headers"); !regexp.MustCompile(`^trainer\s+0/1\s+Pending\s`).MatchString(out) {
		t.Errorf("kubectl get pod: %s", out)
	}

	startAgent(t, s, "gpu-0", "--runtime", "fake", "--fake-gpus", "1")
	eventually(t, 60*time.Second, "the pod Running on gpu-0", func() bool {
		p, err := c.CoreV1().Pods("default").Get(ctx, "trainer", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "gpu-0" && p.Status.Phase == corev1.PodRunning
	})
}

// TestDeadNodePodsMove is issue 3's third acceptance test: a node that stops
// heartbeating turns NotReady and its pods come back on the other nodes. The
// grace period stays above the nodes' 10 s Lease renewal, as it must on a
// real cluster.
func TestDeadNodePodsMove(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--hollow-nodes", "2", "--node-monitor-grace-period", "20s",
		"--default-unreachable-toleration-seconds", "3", "--default-not-ready-toleration-seconds", "3")
	c := s.client()
	ctx := context.Background()
	a := startAgent(t, s, "doomed", "--runtime", "fake")
	eventually(t, 30*time.Second, "3 nodes", func() bool {
		nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		return err == nil && len(nodes.Items) == 3
	})
	deploySeed(t, s)
	sel := "app=ml-model"
	eventually(t, 60*time.Second, "3 pods Ready", func() bool { return readyRunning(t, c, seedNS, sel, 3) })
	placement := map[string]int{}
	for _, p := range livePods(t, c, seedNS, sel) {
		placement[p.Spec.NodeName]++
	}
	if len(placement) != 3 {
		t.Fatalf("pods per node %v, want one on each of the 3 nodes", placement)
	}

	a.kill()
	eventually(t, 60*time.Second, "the node NotReady", func() bool {
		return regexp.MustCompile(`(?m)^doomed\s+NotReady\s`).MatchString(s.ok("get", "nodes", "--no-headers"))
	})
	n, err := c.CoreV1().Nodes().Get(ctx, "doomed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var taints []string
	for _, taint := range n.Spec.Taints {
		taints = append(taints, taint.Key+":"+string(taint.Effect))
	}
	sort.Strings(taints)
	if fmt.Sprint(taints) != "[node.kubernetes.io/unreachable:NoExecute node.kubernetes.io/unreachable:NoSchedule]" {
		t.Errorf("taints of the dead node: %v", taints)
	}
	eventually(t, 60*time.Second, "3 pods Ready on the live nodes", func() bool {
		if !readyRunning(t, c, seedNS, sel, 3) {
			return false
		}
		for _, p := range livePods(t, c, seedNS, sel) {
			if p.Spec.NodeName == "doomed" {
				return false
			}
		}
		return true
	})

	// The evicted pod stays Terminating: no kubelet confirms it is gone.
	// Once the node is deleted the pod garbage collector removes it (after
	// its 40 s quarantine of missing nodes).
	onDoomed := []string{"get", "pods", "-n", seedNS, "--field-selector", "spec.nodeName=doomed", "--no-headers"}
	if out := s.ok(onDoomed...); !regexp.MustCompile(`(?m)^ml-model-\S+\s+\S+\s+Terminating\s`).MatchString(out) {
		t.Errorf("pods on the dead node:\n%s\nwant the evicted one Terminating", out)
	}
	s.ok("delete", "node", "doomed")
	eventually(t, 120*time.Second, "the dead node's pod removed", func() bool {
		r := s.kubectl("", nil, onDoomed...)
		return r.Code == 0 && strings.TrimSpace(r.Stdout) == "" && strings.Contains(r.Stderr, "No resources found")
	})
}
