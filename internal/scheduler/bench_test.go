package scheduler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

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
