package scheduler

import (
	"container/heap"
	"context"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/utils/clock"
)

// Where a pod waits in the scheduling queue.
type place int

const (
	inNone          place = iota
	inActive              // ready to be scheduled
	inBackoff             // failed recently; waits out its back-off
	inUnschedulable       // found no node; waits for a cluster event
	inFlight              // popped and being scheduled or bound
)

// queuedPod is a pod in the scheduling queue with its scheduling history.
type queuedPod struct {
	pod   *corev1.Pod
	place place
	// attempts counts scheduling attempts; back-off doubles with each.
	attempts int
	// added orders pods of equal priority in the active queue.
	added time.Time
	// failedAt is when the last attempt failed; unschedulableSince when
	// the pod last entered the unschedulable set.
	failedAt time.Time
	// cycle is the scheduling cycle of the last Pop; updated tells that the
	// pod changed while in flight; deleted that it went away meanwhile.
	cycle   int64
	updated bool
	deleted bool
	index   int
}

// schedulingQueue is kube-scheduler's three-part queue: an active heap
// (higher priority first, then first come), a back-off heap of pods that
// failed recently, and a set of unschedulable pods that stay put until a
// cluster event (a node added or changed, a pod gone) may have made room,
// or until they have waited maxUnschedulable.
type schedulingQueue struct {
	clock            clock.Clock
	initialBackoff   time.Duration
	maxBackoff       time.Duration
	maxUnschedulable time.Duration

	mu            sync.Mutex
	cond          *sync.Cond
	closed        bool
	pods          map[types.UID]*queuedPod
	active        podHeap
	backoff       podHeap
	unschedulable map[types.UID]*queuedPod
	cycle         int64
	moveCycle     int64
	// report, when set, is told the size of each part after every change
	// (under the lock).
	report func(active, backoff, unschedulable int)
}

func newSchedulingQueue(clk clock.Clock, initialBackoff, maxBackoff, maxUnschedulable time.Duration) *schedulingQueue {
	q := &schedulingQueue{
		clock:            clk,
		initialBackoff:   initialBackoff,
		maxBackoff:       maxBackoff,
		maxUnschedulable: maxUnschedulable,
		pods:             map[types.UID]*queuedPod{},
		unschedulable:    map[types.UID]*queuedPod{},
	}
	q.active.less = func(a, b *queuedPod) bool {
		pa, pb := corev1helpers.PodPriority(a.pod), corev1helpers.PodPriority(b.pod)
		if pa != pb {
			return pa > pb
		}
		return a.added.Before(b.added)
	}
	q.backoff.less = func(a, b *queuedPod) bool { return q.backoffExpiry(a).Before(q.backoffExpiry(b)) }
	q.cond = sync.NewCond(&q.mu)
	return q
}

// backoffExpiry is when a failed pod may be tried again: the initial
// back-off doubled per further attempt, capped at the maximum.
func (q *schedulingQueue) backoffExpiry(p *queuedPod) time.Time {
	d := q.initialBackoff
	for i := 1; i < p.attempts && d < q.maxBackoff; i++ {
		d *= 2
	}
	return p.failedAt.Add(min(d, q.maxBackoff))
}

func gated(pod *corev1.Pod) bool { return len(pod.Spec.SchedulingGates) > 0 }

// add queues a new pending pod, or refreshes one already queued. Pods with
// scheduling gates are left out until an update removes the gates.
func (q *schedulingQueue) add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.reportLocked()
	q.addLocked(pod)
}

func (q *schedulingQueue) addLocked(pod *corev1.Pod) {
	if p := q.pods[pod.UID]; p != nil {
		q.updateLocked(p, pod)
		return
	}
	if gated(pod) {
		return
	}
	p := &queuedPod{pod: pod, added: q.clock.Now()}
	q.pods[pod.UID] = p
	q.toActive(p)
}

// update takes a newer version of a pending pod. A change that can make the
// pod schedulable (its spec, labels or annotations, not only its status)
// moves it out of the unschedulable set.
func (q *schedulingQueue) update(oldPod, newPod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.reportLocked()
	p := q.pods[newPod.UID]
	if p == nil {
		q.addLocked(newPod)
		return
	}
	q.updateLocked(p, newPod)
	if p.place == inUnschedulable && podChanged(oldPod, newPod) {
		delete(q.unschedulable, p.pod.UID)
		q.toActiveOrBackoff(p)
	}
}

func (q *schedulingQueue) updateLocked(p *queuedPod, pod *corev1.Pod) {
	changed := podChanged(p.pod, pod)
	p.pod = pod
	if gated(pod) {
		if p.place != inFlight {
			q.removeLocked(p)
		}
		return
	}
	switch p.place {
	case inActive:
		heap.Fix(&q.active, p.index)
	case inFlight:
		if changed {
			p.updated = true
		}
	}
}

// podChanged reports a change other than status and bookkeeping metadata.
func podChanged(a, b *corev1.Pod) bool {
	if a.Generation != b.Generation && b.Generation != 0 {
		return true
	}
	return !maps.Equal(a.Labels, b.Labels) || !maps.Equal(a.Annotations, b.Annotations) ||
		!apiequality.Semantic.DeepEqual(&a.Spec, &b.Spec)
}

// delete drops a pod that was deleted, bound or handed to another scheduler.
func (q *schedulingQueue) delete(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.reportLocked()
	p := q.pods[uid]
	if p == nil {
		return
	}
	if p.place == inFlight {
		p.deleted = true
		return
	}
	q.removeLocked(p)
}

func (q *schedulingQueue) removeLocked(p *queuedPod) {
	switch p.place {
	case inActive:
		heap.Remove(&q.active, p.index)
	case inBackoff:
		heap.Remove(&q.backoff, p.index)
	case inUnschedulable:
		delete(q.unschedulable, p.pod.UID)
	}
	p.place = inNone
	delete(q.pods, p.pod.UID)
}

// pop waits for an active pod and hands it out in flight; false once the
// queue is closed.
func (q *schedulingQueue) pop() (*queuedPod, *corev1.Pod, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.reportLocked()
	for q.active.Len() == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, nil, false
	}
	p := heap.Pop(&q.active).(*queuedPod)
	p.place = inFlight
	p.attempts++
	q.cycle++
	p.cycle = q.cycle
	p.updated = false
	return p, p.pod, true
}

// done ends a successful attempt (the pod is bound, or needs no binding).
func (q *schedulingQueue) done(p *queuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p.place == inFlight {
		p.place = inNone
		delete(q.pods, p.pod.UID)
	}
}

// addUnschedulable files a pod that found no node. If a cluster event
// or an update came while it was in flight, the event may have made room,
// so it only backs off instead of waiting for the next event.
func (q *schedulingQueue) addUnschedulable(p *queuedPod) { q.requeue(p, true) }

// addBackoff files a pod whose attempt failed for another reason (an API
// error) to be retried after its back-off.
func (q *schedulingQueue) addBackoff(p *queuedPod) { q.requeue(p, false) }

func (q *schedulingQueue) requeue(p *queuedPod, unschedulable bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.reportLocked()
	if !q.requeueable(p) {
		return
	}
	p.failedAt = q.clock.Now()
	if !unschedulable || p.updated || q.moveCycle >= p.cycle {
		q.toBackoff(p)
		return
	}
	p.place = inUnschedulable
	q.unschedulable[p.pod.UID] = p
}

func (q *schedulingQueue) requeueable(p *queuedPod) bool {
	if p.place != inFlight {
		return false
	}
	if p.deleted || gated(p.pod) {
		p.place = inNone
		delete(q.pods, p.pod.UID)
		return false
	}
	return true
}

// moveAll is the reaction to a cluster event that may make pending pods
// schedulable: every unschedulable pod goes back to the active queue, or to
// back-off if it is still backing off.
func (q *schedulingQueue) moveAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.reportLocked()
	q.moveCycle = q.cycle
	for uid, p := range q.unschedulable {
		delete(q.unschedulable, uid)
		q.toActiveOrBackoff(p)
	}
}

func (q *schedulingQueue) toActiveOrBackoff(p *queuedPod) {
	if p.attempts > 0 && q.clock.Now().Before(q.backoffExpiry(p)) {
		q.toBackoff(p)
		return
	}
	q.toActive(p)
}

func (q *schedulingQueue) toActive(p *queuedPod) {
	p.place = inActive
	heap.Push(&q.active, p)
	q.cond.Signal()
}

func (q *schedulingQueue) toBackoff(p *queuedPod) {
	p.place = inBackoff
	heap.Push(&q.backoff, p)
}

// flush moves pods whose back-off is over to the active queue, and pods
// that have been unschedulable for too long back for another try.
func (q *schedulingQueue) flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.reportLocked()
	now := q.clock.Now()
	for q.backoff.Len() > 0 && !now.Before(q.backoffExpiry(q.backoff.items[0])) {
		q.toActive(heap.Pop(&q.backoff).(*queuedPod))
	}
	for uid, p := range q.unschedulable {
		if now.Sub(p.failedAt) >= q.maxUnschedulable {
			delete(q.unschedulable, uid)
			q.toActiveOrBackoff(p)
		}
	}
}

// run flushes every interval until ctx is done, then closes the queue.
func (q *schedulingQueue) run(ctx context.Context, clk clock.WithTicker, interval time.Duration) {
	defer q.close()
	t := clk.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			q.flush()
		}
	}
}

func (q *schedulingQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// reportLocked tells report the size of each part.
func (q *schedulingQueue) reportLocked() {
	if q.report != nil {
		q.report(q.active.Len(), q.backoff.Len(), len(q.unschedulable))
	}
}

// counts reports how many pods wait in each part, for tests and logs.
func (q *schedulingQueue) counts() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}

// podHeap is a heap of queued pods that keeps each pod's index current.
type podHeap struct {
	items []*queuedPod
	less  func(a, b *queuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *podHeap) Push(x any) {
	p := x.(*queuedPod)
	p.index = len(h.items)
	h.items = append(h.items, p)
}
func (h *podHeap) Pop() any {
	n := len(h.items) - 1
	p := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	p.index = -1
	return p
}
