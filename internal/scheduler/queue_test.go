package scheduler

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

func queuePod(name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(name)}}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func newTestQueue() (*schedulingQueue, *clocktesting.FakeClock) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	return newSchedulingQueue(clk, time.Second, 10*time.Second, 5*time.Minute), clk
}

func mustPop(t *testing.T, q *schedulingQueue, want string) *queuedPod {
	t.Helper()
	if a, _, _ := q.counts(); a == 0 {
		t.Fatalf("active queue empty, want %s", want)
	}
	p, pod, ok := q.pop()
	if !ok || pod.Name != want {
		t.Fatalf("pop = %v, want %s", pod, want)
	}
	return p
}

func wantCounts(t *testing.T, q *schedulingQueue, active, backoff, unsched int) {
	t.Helper()
	if a, b, u := q.counts(); a != active || b != backoff || u != unsched {
		t.Fatalf("queue has active=%d backoff=%d unschedulable=%d, want %d %d %d", a, b, u, active, backoff, unsched)
	}
}

func TestQueuePriorityThenFIFO(t *testing.T) {
	q, clk := newTestQueue()
	q.add(queuePod("first"))
	clk.Step(time.Millisecond)
	q.add(queuePod("second"))
	clk.Step(time.Millisecond)
	q.add(queuePod("urgent", func(p *corev1.Pod) { p.Spec.Priority = ptr.To[int32](1000) }))
	for _, want := range []string{"urgent", "first", "second"} {
		mustPop(t, q, want)
	}
}

func TestQueueBackoffDoubles(t *testing.T) {
	q, clk := newTestQueue()
	q.add(queuePod("p"))
	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		p := mustPop(t, q, "p")
		q.addBackoff(p)
		clk.Step(wait - time.Millisecond)
		q.flush()
		wantCounts(t, q, 0, 1, 0)
		clk.Step(time.Millisecond)
		q.flush()
		wantCounts(t, q, 1, 0, 0)
	}
}

// unschedulableQueue returns a queue where pod "p" has been unschedulable
// for a minute.
func unschedulableQueue(t *testing.T) (*schedulingQueue, *clocktesting.FakeClock) {
	t.Helper()
	q, clk := newTestQueue()
	q.add(queuePod("p"))
	q.addUnschedulable(mustPop(t, q, "p"))
	clk.Step(time.Minute)
	return q, clk
}

func TestQueueUnschedulableWaitsForEvent(t *testing.T) {
	q, clk := unschedulableQueue(t)
	q.flush()
	wantCounts(t, q, 0, 0, 1)

	// A status-only update (our own condition) does not move it.
	old := queuePod("p")
	upd := queuePod("p", func(p *corev1.Pod) { p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled}} })
	q.update(old, upd)
	wantCounts(t, q, 0, 0, 1)

	// A cluster event does, straight to active once the back-off is over.
	q.moveAll()
	wantCounts(t, q, 1, 0, 0)

	// Right after a failure it goes to back-off instead.
	q.addUnschedulable(mustPop(t, q, "p"))
	q.moveAll()
	wantCounts(t, q, 0, 1, 0)

	// And after podMaxInUnschedulablePodsDuration it is retried anyway.
	clk.Step(2 * time.Second)
	q.flush()
	q.addUnschedulable(mustPop(t, q, "p"))
	clk.Step(5 * time.Minute)
	q.flush()
	wantCounts(t, q, 1, 0, 0)
}

func TestQueueEventDuringAttemptBacksOff(t *testing.T) {
	q, _ := newTestQueue()
	q.add(queuePod("p"))
	p := mustPop(t, q, "p")
	q.moveAll() // e.g. a node was added while the pod was being scheduled
	q.addUnschedulable(p)
	wantCounts(t, q, 0, 1, 0)
}

func TestQueueSpecUpdateMovesUnschedulable(t *testing.T) {
	q, _ := unschedulableQueue(t)
	tolerating := queuePod("p", func(p *corev1.Pod) { p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}} })
	q.update(queuePod("p"), tolerating)
	wantCounts(t, q, 1, 0, 0)
	if _, pod, _ := q.pop(); len(pod.Spec.Tolerations) != 1 {
		t.Errorf("popped the old pod version")
	}
}

func TestQueueGatedAndDeleted(t *testing.T) {
	q, _ := newTestQueue()
	gate := func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}} }
	q.add(queuePod("gated", gate))
	wantCounts(t, q, 0, 0, 0)
	q.update(queuePod("gated", gate), queuePod("gated"))
	wantCounts(t, q, 1, 0, 0)

	q.add(queuePod("gone"))
	q.delete("gone")
	mustPop(t, q, "gated")
	wantCounts(t, q, 0, 0, 0)

	// Deleted while in flight: not requeued.
	q.add(queuePod("inflight"))
	p := mustPop(t, q, "inflight")
	q.delete("inflight")
	q.addUnschedulable(p)
	wantCounts(t, q, 0, 0, 0)
}
