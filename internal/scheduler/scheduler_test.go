package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

func fakeNode(name, cpu string, extra ...corev1.ResourceName) *corev1.Node {
	alloc := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	for _, r := range extra {
		alloc[r] = resource.MustParse("1")
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Allocatable: alloc}}
}

func fakePod(name string, requests corev1.ResourceList, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: k8stypes.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			SchedulerName: DefaultSchedulerName,
			Containers:    []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: requests}}},
		},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

// bindReactor makes the fake clientset's pods/binding assign the pod, as
// the API server does.
func bindReactor(client *fake.Clientset) k8stesting.ReactionFunc {
	return func(action k8stesting.Action) (bool, runtime.Object, error) {
		create := action.(k8stesting.CreateAction)
		if create.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := create.GetObject().(*corev1.Binding)
		obj, err := client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*corev1.Pod).DeepCopy()
		pod.Spec.NodeName = b.Target.Name
		return true, b, client.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), pod, b.Namespace)
	}
}

// fakeScheduler is a Scheduler over a fake clientset, its informers
// started; run starts the scheduling loop, stop ends both.
type fakeScheduler struct {
	client  *fake.Clientset
	factory informers.SharedInformerFactory
	sched   *Scheduler
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed when Run returns; nil before run
}

// startFakeScheduler makes a fake clientset holding objs, whose pod
// creations (pods/binding included) go to the reactor made by
// createPods, and a scheduler over it, and starts the informers.
func startFakeScheduler(objs []runtime.Object, createPods func(*fake.Clientset) k8stesting.ReactionFunc, recorder record.EventRecorder, opts Options) *fakeScheduler {
	f := &fakeScheduler{client: fake.NewSimpleClientset(objs...)}
	// Before the informers start: the fake's reaction chain is not
	// guarded against its own calls.
	f.client.PrependReactor("create", "pods", createPods(f.client))
	f.factory = informers.NewSharedInformerFactory(f.client, 0)
	f.sched = New(f.client, f.factory, recorder, opts)
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.factory.Start(f.ctx.Done())
	return f
}

func (f *fakeScheduler) run() {
	f.done = make(chan struct{})
	go func() { defer close(f.done); f.sched.Run(f.ctx) }()
}

func (f *fakeScheduler) stop() {
	f.cancel()
	if f.done != nil {
		<-f.done
	}
	f.factory.Shutdown()
}

func TestSchedulerWithFakeClient(t *testing.T) {
	gpu := corev1.ResourceName("nvidia.com/gpu")
	tests := []struct {
		name      string
		nodes     []*corev1.Node
		pods      []*corev1.Pod
		wantNode  map[string]string // pod -> node ("" = stays pending)
		wantEvent []string
		// wantCondition is the PodScheduled message patched onto a pod.
		wantCondition map[string]string
	}{
		{
			name:      "binds to the node that fits",
			nodes:     []*corev1.Node{fakeNode("small", "1"), fakeNode("big", "8")},
			pods:      []*corev1.Pod{fakePod("p", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")})},
			wantNode:  map[string]string{"p": "big"},
			wantEvent: []string{"Normal Scheduled Successfully assigned default/p to big"},
		},
		{
			name:          "no node has the resource",
			nodes:         []*corev1.Node{fakeNode("a", "4"), fakeNode("b", "4")},
			pods:          []*corev1.Pod{fakePod("p", corev1.ResourceList{gpu: resource.MustParse("1")})},
			wantNode:      map[string]string{"p": ""},
			wantEvent:     []string{"Warning FailedScheduling 0/2 nodes are available: 2 Insufficient nvidia.com/gpu."},
			wantCondition: map[string]string{"p": "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."},
		},
		{
			name:          "no nodes at all",
			pods:          []*corev1.Pod{fakePod("p", nil)},
			wantNode:      map[string]string{"p": ""},
			wantEvent:     []string{"Warning FailedScheduling no nodes available to schedule pods"},
			wantCondition: map[string]string{"p": "no nodes available to schedule pods"},
		},
		{
			name:  "gated and foreign pods are left alone",
			nodes: []*corev1.Node{fakeNode("a", "4", gpu)},
			pods: []*corev1.Pod{
				fakePod("gated", nil, func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "x"}} }),
				fakePod("foreign", nil, func(p *corev1.Pod) { p.Spec.SchedulerName = "other" }),
				fakePod("mine", corev1.ResourceList{gpu: resource.MustParse("1")}),
			},
			wantNode:  map[string]string{"gated": "", "foreign": "", "mine": "a"},
			wantEvent: []string{"Normal Scheduled Successfully assigned default/mine to a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []runtime.Object
			for _, n := range tt.nodes {
				objs = append(objs, n)
			}
			for _, p := range tt.pods {
				objs = append(objs, p)
			}
			recorder := record.NewFakeRecorder(100)
			f := startFakeScheduler(objs, bindReactor, recorder, Options{Seed: 1})
			f.run()
			defer f.stop()
			client, ctx := f.client, f.ctx

			var events []string
			for _, want := range tt.wantEvent {
				select {
				case e := <-recorder.Events:
					events = append(events, e)
					if e != want {
						t.Errorf("event %q, want %q", e, want)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("no event %q; got %q", want, events)
				}
			}
			for pod, msg := range tt.wantCondition {
				err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
					return patchedCondition(client, pod) == msg, nil
				})
				if err != nil {
					t.Errorf("pod %s: PodScheduled message %q, want %q", pod, patchedCondition(client, pod), msg)
				}
			}
			for pod, node := range tt.wantNode {
				if node == "" {
					continue
				}
				err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
					p, err := client.CoreV1().Pods("default").Get(ctx, pod, metav1.GetOptions{})
					return err == nil && p.Spec.NodeName == node, err
				})
				if err != nil {
					t.Errorf("pod %s not bound to %s: %v", pod, node, err)
				}
			}
			// Once the expected work is done, nothing touched the other pods.
			for pod, node := range tt.wantNode {
				if node != "" {
					continue
				}
				for _, a := range client.Actions() {
					if c, ok := a.(k8stesting.CreateAction); ok && c.GetSubresource() == "binding" && c.GetObject().(*corev1.Binding).Name == pod {
						t.Errorf("pod %s was bound", pod)
					}
				}
			}
		})
	}
}

// patchedCondition returns the message of the last PodScheduled=False
// Unschedulable condition patched onto the pod's status.
func patchedCondition(client *fake.Clientset, pod string) string {
	msg := ""
	for _, a := range client.Actions() {
		p, ok := a.(k8stesting.PatchAction)
		if !ok || p.GetSubresource() != "status" || p.GetName() != pod {
			continue
		}
		var body struct {
			Status struct{ Conditions []corev1.PodCondition } `json:"status"`
		}
		if err := json.Unmarshal(p.GetPatch(), &body); err != nil || len(body.Status.Conditions) != 1 {
			continue
		}
		c := body.Status.Conditions[0]
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			msg = c.Message
		}
	}
	return msg
}

func TestConditionPatch(t *testing.T) {
	b, err := conditionPatch("u1", corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "m"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"uid":"u1"`, `"type":"PodScheduled"`, `"reason":"Unschedulable"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("patch %s lacks %s", b, want)
		}
	}

}

// BenchmarkSchedulerThroughput runs the whole scheduler (informers, queue,
// algorithm, assume, asynchronous binding) over 1,000 nodes and 10,000
// pending pods of 100 ReplicaSets, with a fake clientset whose binding
// answers at once. One op schedules and binds all 10,000 pods; pods/s is the
// throughput. Run with -benchtime=1x.
func BenchmarkSchedulerThroughput(b *testing.B) {
	const numNodes, numPods = 1000, 10000
	for range b.N {
		b.StopTimer()
		var objs []runtime.Object
		for i := range numNodes {
			objs = append(objs, fakeNode(fmt.Sprintf("node-%04d", i), "32"))
		}
		for i := range numPods {
			objs = append(objs, fakePod(fmt.Sprintf("pod-%05d", i),
				corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
				func(p *corev1.Pod) {
					p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs",
						UID: k8stypes.UID(fmt.Sprint("rs-", i%100)), Controller: ptr.To(true)}}
				}))
		}
		var bound atomic.Int64
		countBindings := func(*fake.Clientset) k8stesting.ReactionFunc {
			return func(action k8stesting.Action) (bool, runtime.Object, error) {
				if action.(k8stesting.CreateAction).GetSubresource() == "binding" {
					bound.Add(1)
					return true, nil, nil
				}
				return false, nil, nil
			}
		}
		f := startFakeScheduler(objs, countBindings, &record.FakeRecorder{}, Options{Seed: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		f.factory.WaitForCacheSync(f.ctx.Done())
		err := wait.PollUntilContextTimeout(f.ctx, time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			a, _, _ := f.sched.queue.counts()
			return a == numPods, nil
		})
		if err != nil {
			f.stop()
			b.Fatalf("queueing %d pods: %v", numPods, err)
		}
		b.StartTimer()
		start := time.Now()
		f.run()
		// The error is the timeout; the count below says what it means.
		_ = wait.PollUntilContextTimeout(f.ctx, time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
			return bound.Load() >= numPods, nil
		})
		elapsed := time.Since(start)
		b.StopTimer()
		f.stop()
		if n := bound.Load(); n < numPods {
			b.Fatalf("bound %d of %d pods", n, numPods)
		}
		b.ReportMetric(numPods/elapsed.Seconds(), "pods/s")
	}
}
