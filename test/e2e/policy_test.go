package e2e

import (
	"context"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const quotaManifests = `
apiVersion: v1
kind: ResourceQuota
metadata:
  name: gpu-quota
spec:
  hard:
    requests.nvidia.com/gpu: "1"
---
apiVersion: v1
kind: LimitRange
metadata:
  name: defaults
spec:
  limits:
  - type: Container
    defaultRequest:
      cpu: 250m
      memory: 64Mi
`

func gpuPodManifest(name string) string {
	return `
apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  containers:
  - name: trainer
    image: localhost/skiff/model-server:v1
    resources:
      limits:
        nvidia.com/gpu: 1
`
}

// TestQuotaAndLimits is issue 13's Done-when 6, first half: a ResourceQuota
// of requests.nvidia.com/gpu: 1 refuses a second GPU pod with Kubernetes'
// message, and a LimitRange fills default requests.
func TestQuotaAndLimits(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--hollow-nodes", "1")
	s.kubectl(quotaManifests, nil, "apply", "-f", "-")
	eventually(t, 30*time.Second, "the quota's status.hard", func() bool {
		return s.ok("get", "resourcequota", "gpu-quota", "-o", "jsonpath={.status.hard}") != ""
	})
	if r := s.kubectl(gpuPodManifest("gpu-1"), nil, "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("first GPU pod refused: %s", r.Stderr)
	}
	// NAME REQUEST LIMIT AGE, as kubectl prints a quota.
	var out string
	defer func() {
		if t.Failed() {
			t.Logf("last kubectl output:\n%s", out)
		}
	}()
	eventually(t, 30*time.Second, "kubectl get quota to show the use", func() bool {
		out = s.ok("get", "quota", "gpu-quota")
		return regexp.MustCompile(`(?m)^NAME\s+REQUEST\s+LIMIT\s+AGE\n^gpu-quota\s+requests.nvidia.com/gpu: 1/1\s`).MatchString(out)
	})
	r := s.kubectl(gpuPodManifest("gpu-2"), nil, "apply", "-f", "-")
	want := `pods "gpu-2" is forbidden: exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=1, limited: requests.nvidia.com/gpu=1`
	if r.Code == 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("second GPU pod: exit %d, stderr %q; want %q", r.Code, r.Stderr, want)
	}
	if out = s.ok("describe", "quota", "gpu-quota"); !regexp.MustCompile(`requests.nvidia.com/gpu\s+1\s+1`).MatchString(out) {
		t.Errorf("kubectl describe quota:\n%s", out)
	}

	t.Run("LimitRange default requests", func(t *testing.T) {
		s.ok("run", "plain", "--image=localhost/skiff/model-server:v1")
		out := s.ok("get", "pod", "plain", "-o", "jsonpath={.spec.containers[0].resources.requests.cpu} {.spec.containers[0].resources.requests.memory}")
		if out != "250m 64Mi" {
			t.Errorf("requests of a pod without any: %q, want the LimitRange's 250m 64Mi", out)
		}
	})
}

const preemptionManifests = `
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: inference
value: 100000
description: online inference
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: batch
value: 10
`

func cpuPod(name, class string) string {
	return `
apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  priorityClassName: ` + class + `
  containers:
  - name: c
    image: localhost/skiff/model-server:v1
    resources:
      requests:
        cpu: "6"
`
}

// TestPreemption is issue 13's Done-when 6, second half: a high-priority
// pod preempts a low-priority one on a full node.
func TestPreemption(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--hollow-nodes", "1")
	c := s.client()
	ctx := context.Background()
	if out := s.ok("get", "priorityclasses", "--no-headers"); !strings.Contains(out, "system-cluster-critical") || !strings.Contains(out, "system-node-critical") {
		t.Errorf("built-in priority classes missing:\n%s", out)
	}
	s.kubectl(preemptionManifests, nil, "apply", "-f", "-")
	// The Priority admission knows a new class once its cache has it.
	eventually(t, 10*time.Second, "the batch pod admitted", func() bool {
		return s.kubectl(cpuPod("batch-job", "batch"), nil, "apply", "-f", "-").Code == 0
	})
	eventually(t, 30*time.Second, "the batch pod Running", func() bool {
		p, err := c.CoreV1().Pods("default").Get(ctx, "batch-job", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning
	})
	if out := s.ok("get", "pod", "batch-job", "-o", "jsonpath={.spec.priority}"); out != "10" {
		t.Errorf("spec.priority of the batch pod: %q, want 10", out)
	}
	if r := s.kubectl(cpuPod("inference", "inference"), nil, "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("inference pod refused: %s", r.Stderr)
	}
	eventually(t, 45*time.Second, "the inference pod Running on the node", func() bool {
		p, err := c.CoreV1().Pods("default").Get(ctx, "inference", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning && p.Spec.NodeName == "hollow-0"
	})
	if out := s.ok("get", "pod", "inference", "-o", "jsonpath={.status.nominatedNodeName}"); out != "hollow-0" && out != "" {
		t.Errorf("nominatedNodeName %q", out)
	}
	eventually(t, 30*time.Second, "the batch pod gone", func() bool {
		_, err := c.CoreV1().Pods("default").Get(ctx, "batch-job", metav1.GetOptions{})
		return err != nil
	})
	if out := s.ok("get", "events", "--field-selector", "reason=Preempted", "-o", "jsonpath={.items[*].involvedObject.name}"); !strings.Contains(out, "batch-job") {
		t.Errorf("no Preempted event for the batch pod: %q", out)
	}
}

const drainManifests = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: localhost/skiff/model-server:v1
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
spec:
  minAvailable: 2
  selector:
    matchLabels: {app: web}
`

// drainDaemonSet runs a pod on every node, as a node agent does.
const drainDaemonSet = `
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: agent
        image: localhost/skiff/model-server:v1
`

// TestDrain is issue 13's Done-when 5: kubectl drain of a node with a PDB
// minAvailable 2 over 3 replicas evicts one pod at a time and waits. The
// node also runs a DaemonSet's pod: without --ignore-daemonsets drain
// refuses naming it; with the flag the Deployment's pods move elsewhere
// and the DaemonSet's pod stays.
func TestDrain(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--hollow-nodes", "3")
	c := s.client()
	ctx := context.Background()
	eventually(t, 30*time.Second, "3 nodes Ready", func() bool {
		return regexp.MustCompile(`(?m)(^hollow-\d\s+Ready\s.*\n?){3}`).MatchString(s.ok("get", "nodes", "--no-headers"))
	})
	// Two of the pods on hollow-0, one on hollow-1.
	s.ok("cordon", "hollow-1")
	s.ok("cordon", "hollow-2")
	s.kubectl(strings.Replace(drainManifests, "replicas: 3", "replicas: 2", 1), nil, "apply", "-f", "-")
	eventually(t, 30*time.Second, "2 pods ready", func() bool { return readyRunning(t, c, "default", "app=web", 2) })
	s.ok("uncordon", "hollow-1")
	s.ok("cordon", "hollow-0")
	s.ok("scale", "deployment/web", "--replicas=3")
	eventually(t, 30*time.Second, "3 pods ready", func() bool { return readyRunning(t, c, "default", "app=web", 3) })
	s.ok("uncordon", "hollow-0")
	s.ok("uncordon", "hollow-2")
	eventually(t, 30*time.Second, "the budget allowing 1 disruption", func() bool {
		return regexp.MustCompile(`^web\s+2\s+N/A\s+1\s`).MatchString(s.ok("get", "pdb", "web", "--no-headers"))
	})
	if r := s.kubectl(drainDaemonSet, nil, "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("apply the DaemonSet: %s", r.Stderr)
	}
	eventually(t, 30*time.Second, "a DaemonSet pod on each node", func() bool { return readyRunning(t, c, "default", "app=agent", 3) })
	agentOn := func(node string) string {
		for _, p := range livePods(t, c, "default", "app=agent") {
			if p.Spec.NodeName == node {
				return p.Name
			}
		}
		return ""
	}
	agent := agentOn("hollow-0")
	if agent == "" {
		t.Fatal("no DaemonSet pod on hollow-0")
	}
	refused := s.kubectl("", nil, "drain", "hollow-0", "--timeout=20s")
	if want := "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): default/" + agent; refused.Code == 0 || !strings.Contains(refused.Stdout+refused.Stderr, want) {
		t.Fatalf("kubectl drain without --ignore-daemonsets: exit %d, want an error with %q\n%s\n%s", refused.Code, want, refused.Stdout, refused.Stderr)
	}
	if n := len(livePods(t, c, "default", "app=web")); n != 3 {
		t.Fatalf("%d web pods after the refused drain, want all 3", n)
	}

	var minReady atomic.Int32
	minReady.Store(3)
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			list, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				continue
			}
			ready := int32(0)
			for i := range list.Items {
				if p := &list.Items[i]; p.DeletionTimestamp == nil && podReady(p) {
					ready++
				}
			}
			if ready < minReady.Load() {
				minReady.Store(ready)
			}
		}
	}()
	r := s.kubectl("", nil, "drain", "hollow-0", "--ignore-daemonsets", "--timeout=50s")
	close(done)
	<-watched
	if r.Code != 0 {
		t.Fatalf("kubectl drain: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "node/hollow-0 drained") {
		t.Errorf("kubectl drain output:\n%s", r.Stdout)
	}
	if want := "Warning: ignoring DaemonSet-managed Pods: default/" + agent; !strings.Contains(r.Stdout+r.Stderr, want) {
		t.Errorf("kubectl drain --ignore-daemonsets does not warn %q:\n%s", want, r.Stderr)
	}
	if got := agentOn("hollow-0"); got != agent {
		t.Errorf("DaemonSet pod on the drained node: %q, want %s left running", got, agent)
	}
	eventually(t, 30*time.Second, "the evicted pods rescheduled elsewhere", func() bool { return readyRunning(t, c, "default", "app=web", 3) })
	if want := "Cannot evict pod as it would violate the pod's disruption budget."; !strings.Contains(r.Stdout+r.Stderr, want) {
		t.Errorf("drain never waited on the budget (no %q):\n%s\n%s", want, r.Stdout, r.Stderr)
	}
	if m := minReady.Load(); m < 2 {
		t.Errorf("%d pods ready at one time during the drain, want at least 2", m)
	}
	if out := s.ok("get", "node", "hollow-0", "--no-headers"); !strings.Contains(out, "SchedulingDisabled") {
		t.Errorf("drained node not cordoned: %s", out)
	}
	for _, p := range livePods(t, c, "default", "app=web") {
		if p.Spec.NodeName == "hollow-0" {
			t.Errorf("pod %s still on the drained node", p.Name)
		}
	}
	s.ok("uncordon", "hollow-0")
	if out := s.ok("get", "node", "hollow-0", "--no-headers"); strings.Contains(out, "SchedulingDisabled") {
		t.Errorf("uncordoned node still cordoned: %s", out)
	}
}
