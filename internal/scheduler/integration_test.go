//go:build integration

package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/testserver"
)

func createNode(ctx context.Context, t *testing.T, c kubernetes.Interface, name string, extra corev1.ResourceList, taints ...corev1.Taint) {
	t.Helper()
	alloc := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("4"),
		corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	for k, v := range extra {
		alloc[k] = v
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Spec:       corev1.NodeSpec{Taints: taints},
	}
	created, err := c.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	created.Status = corev1.NodeStatus{
		Capacity:    alloc,
		Allocatable: alloc,
		Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("node %s status: %v", name, err)
	}
}

func createPod(ctx context.Context, t *testing.T, c kubernetes.Interface, name string, requests corev1.ResourceList, owner *metav1.OwnerReference) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.example/model:v1",
			Resources: corev1.ResourceRequirements{Requests: requests, Limits: requests},
		}}},
	}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	created, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	return created
}

func eventually(ctx context.Context, t *testing.T, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func podScheduledCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodScheduled {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func findEvent(ctx context.Context, c kubernetes.Interface, pod, reason, message string) (bool, error) {
	events, err := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	for _, e := range events.Items {
		if e.InvolvedObject.Name == pod && e.Reason == reason && e.Message == message {
			return true, nil
		}
	}
	return false, nil
}

// TestSchedulerIntegration runs the scheduler against a real API server:
// replicas spread over nodes, a GPU pod waits (PodScheduled=False,
// FailedScheduling) until a node with a GPU it tolerates appears.
func TestSchedulerIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server")
	}
	srv := testserver.Start(t, nil)
	cfg := rest.CopyConfig(srv.Config)
	cfg.QPS, cfg.Burst = 500, 1000
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	factory := informers.NewSharedInformerFactory(client, 0)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	t.Cleanup(broadcaster.Shutdown)
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: DefaultSchedulerName})
	sched := New(client, factory, recorder, Options{})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); sched.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; factory.Shutdown() })

	for _, n := range []string{"node-a", "node-b", "node-c"} {
		createNode(ctx, t, client, n, nil)
	}
	eventually(ctx, t, "scheduler sees 3 nodes", func(context.Context) (bool, error) { return sched.cache.numNodes() == 3, nil })

	// Three replicas of one owner land on three different nodes.
	owner := &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-abc", UID: "0b7a6f0e-1111-2222-3333-444455556666", Controller: ptr.To(true)}
	small := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
	for i := range 3 {
		createPod(ctx, t, client, fmt.Sprintf("web-%d", i), small, owner)
	}
	placed := map[string]string{}
	eventually(ctx, t, "replicas bound", func(ctx context.Context) (bool, error) {
		for i := range 3 {
			p, err := client.CoreV1().Pods("default").Get(ctx, fmt.Sprintf("web-%d", i), metav1.GetOptions{})
			if err != nil || p.Spec.NodeName == "" {
				return false, err
			}
			placed[p.Name] = p.Spec.NodeName
		}
		return true, nil
	})
	seen := map[string]bool{}
	for _, n := range placed {
		seen[n] = true
	}
	if len(seen) != 3 {
		t.Errorf("replicas placed %v; want one per node", placed)
	}
	eventually(ctx, t, "Scheduled event", func(ctx context.Context) (bool, error) {
		return findEvent(ctx, client, "web-0", "Scheduled", "Successfully assigned default/web-0 to "+placed["web-0"])
	})

	// A GPU pod fits nowhere.
	gpu := corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
	createPod(ctx, t, client, "trainer", gpu, nil)
	waitUnschedulable := func(msg string) {
		t.Helper()
		eventually(ctx, t, "PodScheduled=False: "+msg, func(ctx context.Context) (bool, error) {
			p, err := client.CoreV1().Pods("default").Get(ctx, "trainer", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if p.Spec.NodeName != "" {
				return false, fmt.Errorf("trainer bound to %s", p.Spec.NodeName)
			}
			c := podScheduledCondition(p)
			return c != nil && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == msg, nil
		})
		eventually(ctx, t, "FailedScheduling event: "+msg, func(ctx context.Context) (bool, error) {
			return findEvent(ctx, client, "trainer", "FailedScheduling", msg)
		})
	}
	waitUnschedulable("0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")

	// A GPU node it does not tolerate changes the reason, not the outcome.
	createNode(ctx, t, client, "gpu-tainted", gpu, corev1.Taint{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule})
	waitUnschedulable("0/4 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}, 3 Insufficient nvidia.com/gpu.")

	// A GPU node without the taint takes it.
	createNode(ctx, t, client, "gpu-1", gpu)
	eventually(ctx, t, "trainer bound to gpu-1", func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "trainer", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Spec.NodeName != "" && p.Spec.NodeName != "gpu-1" {
			return false, fmt.Errorf("trainer bound to %s", p.Spec.NodeName)
		}
		c := podScheduledCondition(p)
		return p.Spec.NodeName == "gpu-1" && c != nil && c.Status == corev1.ConditionTrue, nil
	})
	eventually(ctx, t, "trainer Scheduled event", func(ctx context.Context) (bool, error) {
		return findEvent(ctx, client, "trainer", "Scheduled", "Successfully assigned default/trainer to gpu-1")
	})
}
