package kubelet

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The pod manager's state, one concern per type, each with its own lock.

// podWorkers is the registry of the pod workers: one goroutine per pod UID.
type podWorkers struct {
	mu      sync.Mutex
	workers map[types.UID]*podWorker
	wg      sync.WaitGroup
}

// podWorker syncs one pod; kick wakes it.
type podWorker struct {
	uid             types.UID
	namespace, name string
	kick            chan struct{}
}

func newPodWorkers() *podWorkers {
	return &podWorkers{workers: map[types.UID]*podWorker{}}
}

// ensure starts the pod's worker (run, until ctx ends) if it has none,
// and wakes it.
func (r *podWorkers) ensure(ctx context.Context, uid types.UID, namespace, name string, run func(context.Context, *podWorker)) {
	r.mu.Lock()
	w := r.workers[uid]
	if w == nil {
		if ctx.Err() != nil {
			r.mu.Unlock()
			return
		}
		w = &podWorker{uid: uid, namespace: namespace, name: name, kick: make(chan struct{}, 1)}
		r.workers[uid] = w
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			run(ctx, w)
		}()
	}
	r.mu.Unlock()
	w.wake()
}

// kick wakes the worker of a pod, if it has one.
func (r *podWorkers) kick(uid types.UID) {
	r.mu.Lock()
	w := r.workers[uid]
	r.mu.Unlock()
	if w != nil {
		w.wake()
	}
}

// remove forgets a worker that is done. A new event for the UID starts a
// new one.
func (r *podWorkers) remove(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.workers, uid)
}

// wait waits for the workers to return.
func (r *podWorkers) wait() { r.wg.Wait() }

func (w *podWorker) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// waitingReasons holds why each pod's containers are not running after
// the last sync, by pod UID and container name.
type waitingReasons struct {
	mu   sync.Mutex
	pods map[types.UID]map[string]waitingReason
}

func newWaitingReasons() *waitingReasons {
	return &waitingReasons{pods: map[types.UID]map[string]waitingReason{}}
}

// set records (or, with an empty reason, clears) why a container is not
// running.
func (w *waitingReasons) set(uid types.UID, name, reason, message string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if reason == "" {
		delete(w.pods[uid], name)
		return
	}
	if w.pods[uid] == nil {
		w.pods[uid] = map[string]waitingReason{}
	}
	w.pods[uid][name] = waitingReason{reason, message}
}

// of is a copy of the pod's reasons.
func (w *waitingReasons) of(uid types.UID) map[string]waitingReason {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]waitingReason{}
	for k, v := range w.pods[uid] {
		out[k] = v
	}
	return out
}

// forget drops the pod's reasons.
func (w *waitingReasons) forget(uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.pods, uid)
}

// admissions holds the pods admitted to the node (with their requests),
// those rejected, and those this kubelet made Succeeded or Failed (the
// informer's copy may not say so yet). free releases what a pod was given
// at admission (its devices) when its place is freed, under the same lock
// as the admissions, so a pod admitted next finds both free.
type admissions struct {
	free func(types.UID)

	mu       sync.Mutex
	admitted map[types.UID]corev1.ResourceList
	rejected map[types.UID]*rejection
	finished map[types.UID]bool
	// alloc is the resources allocated to the admitted pods' containers,
	// and resizes the state of their resizes.
	alloc   map[types.UID]allocation
	resizes map[types.UID]resizeStatus
}

func newAdmissions(free func(types.UID)) *admissions {
	return &admissions{
		free:     free,
		admitted: map[types.UID]corev1.ResourceList{},
		rejected: map[types.UID]*rejection{},
		finished: map[types.UID]bool{},
		alloc:    map[types.UID]allocation{},
		resizes:  map[types.UID]resizeStatus{},
	}
}

// admit decides once on a pod: a rejected pod stays rejected and an
// admitted one admitted; otherwise decide, given the requests of the
// admitted pods, rejects it or admits it with requests. decide runs under
// the lock, so two pods do not both take the last room.
func (a *admissions) admit(uid types.UID, requests corev1.ResourceList, decide func(others []corev1.ResourceList) *rejection) *rejection {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r := a.rejected[uid]; r != nil {
		return r
	}
	if _, ok := a.admitted[uid]; ok {
		return nil
	}
	others := make([]corev1.ResourceList, 0, len(a.admitted))
	for _, r := range a.admitted {
		others = append(others, r)
	}
	if r := decide(others); r != nil {
		a.rejected[uid] = r
		return r
	}
	a.admitted[uid] = requests
	return nil
}

// resize decides, for an admitted pod, on the resources its spec asks
// (its allocation starts as its spec's): decide gets the pod's allocation
// and the requests of the other admitted pods, under the lock. An accepted
// resize changes the pod's allocation and the requests it holds on the
// node. It reports false for a pod not admitted.
func (a *admissions) resize(pod *corev1.Pod, decide func(current allocation, others []corev1.ResourceList) resizeDecision) (resizeDecision, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.admitted[pod.UID]; !ok {
		return resizeDecision{}, false
	}
	current, ok := a.alloc[pod.UID]
	if !ok {
		current = allocationOf(pod)
		a.alloc[pod.UID] = current
	}
	others := make([]corev1.ResourceList, 0, len(a.admitted))
	for uid, r := range a.admitted {
		if uid != pod.UID {
			others = append(others, r)
		}
	}
	d := decide(current, others)
	rs := a.resizes[pod.UID]
	d.newlyPending = d.pending != nil && (rs.pending == nil || rs.pendingGen != pod.Generation)
	rs.pending, rs.pendingGen = d.pending, 0
	if d.pending != nil {
		rs.pendingGen = pod.Generation
	}
	if d.accepted {
		a.alloc[pod.UID] = d.alloc
		a.admitted[pod.UID] = podRequests(allocatedPod(pod, d.alloc))
		rs.inProgressGen, rs.err = pod.Generation, ""
	}
	a.resizes[pod.UID] = rs
	return d, true
}

// resizeStatusOf is the state of the pod's resize.
func (a *admissions) resizeStatusOf(uid types.UID) resizeStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.resizes[uid]
}

// setResizeError records the last failure ("" for none) to apply the
// pod's allocation.
func (a *admissions) setResizeError(uid types.UID, msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rs := a.resizes[uid]
	rs.err = msg
	a.resizes[uid] = rs
}

// release frees the pod's place on the node.
func (a *admissions) release(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.admitted, uid)
	delete(a.alloc, uid)
	delete(a.resizes, uid)
	a.free(uid)
}

// finish records that this kubelet made the pod Succeeded or Failed, and
// frees its place.
func (a *admissions) finish(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.finished[uid] = true
	delete(a.admitted, uid)
	delete(a.alloc, uid)
	delete(a.resizes, uid)
	a.free(uid)
}

func (a *admissions) isFinished(uid types.UID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.finished[uid]
}

// forget drops all it holds of a pod that is gone.
func (a *admissions) forget(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.admitted, uid)
	delete(a.rejected, uid)
	delete(a.finished, uid)
	delete(a.alloc, uid)
	delete(a.resizes, uid)
	a.free(uid)
}

// killReason is why the kubelet killed a container instance it restarts.
type killReason int

const (
	// killedLiveness and killedStartup: the probe failed; restarted
	// under any policy but Never.
	killedLiveness killReason = iota + 1
	killedStartup
	// killedSpec: its spec (image) changed; restarted under any policy.
	killedSpec
	// killedResize: its resources changed and its resizePolicy restarts
	// it; restarted under any policy.
	killedResize
)

// byProbe reports a kill for a failed liveness or startup probe.
func (r killReason) byProbe() bool { return r == killedLiveness || r == killedStartup }

// instanceNotes holds what the kubelet knows of container instances
// beyond the runtime's view, by container ID: why it killed an instance
// it is to restart, and the termination message read for an instance.
type instanceNotes struct {
	mu       sync.Mutex
	killed   map[string]killReason
	messages map[string]string
}

func newInstanceNotes() *instanceNotes {
	return &instanceNotes{killed: map[string]killReason{}, messages: map[string]string{}}
}

func (n *instanceNotes) setKilled(id string, r killReason) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.killed[id] = r
}

// killedOf is the kill reasons of the instances (those the kubelet killed).
func (n *instanceNotes) killedOf(instances []*containerInfo) map[string]killReason {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]killReason{}
	for _, ci := range instances {
		if r, ok := n.killed[ci.id]; ok {
			out[ci.id] = r
		}
	}
	return out
}

func (n *instanceNotes) message(id string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	msg, ok := n.messages[id]
	return msg, ok
}

func (n *instanceNotes) setMessage(id, msg string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.messages[id] = msg
}

// forget drops the notes of removed instances.
func (n *instanceNotes) forget(ids ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, id := range ids {
		delete(n.killed, id)
		delete(n.messages, id)
	}
}
