package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/agent/activedeadline"
)

const (
	defaultGracePeriod = 30
	minGracePeriod     = 2
)

// syncPod brings one pod to its desired state and reports it. It returns
// when to look again (0: at the resync) and whether the worker is done.
func (m *podManager) syncPod(ctx context.Context, w *podWorker) (time.Duration, bool, error) {
	pod := m.podFor(w)
	state, err := m.podState(ctx, w.uid)
	if err != nil {
		return 0, false, err
	}
	if pod == nil {
		return 0, m.cleanup(ctx, w, state), nil
	}
	acts := m.computeActions(pod, state)
	switch acts.why {
	case podDeleted:
		after, err := m.syncDeleted(ctx, pod, state, acts)
		return after, false, err
	case podFinished:
		m.releaseAdmission(pod.UID)
		return 0, false, m.stopTerminal(ctx, pod, state, acts)
	}
	if rej := m.admitPod(pod, state); rej != nil {
		st := pod.Status.DeepCopy()
		st.Phase, st.Reason, st.Message = corev1.PodFailed, rej.reason, "Pod was rejected: "+rej.message
		st.ObservedGeneration = pod.Generation // the generation rejected
		return 0, false, m.updateStatus(ctx, pod, *st)
	}
	// From here on the pod is the one the kubelet runs: with the
	// resources allocated to it.
	pod = m.allocate(pod)
	acts = m.computeActions(pod, state)
	if left, over := m.activeDeadline(pod); over {
		return 0, false, m.failDeadline(ctx, pod, state)
	} else if left > 0 {
		after, done, err := m.syncRunning(ctx, pod, state, acts)
		var next wake
		next.at(after)
		next.at(left)
		return next.after, done, err
	}
	return m.syncRunning(ctx, pod, state, acts)
}

// computeActions decides on the pod from its state and what the kubelet
// knows of it (probe verdicts, kills, whether it finished it).
func (m *podManager) computeActions(pod *corev1.Pod, state *podState) podActions {
	return computePodActions(pod, state, m.probes.results(pod.UID), m.notes.killedOf(state.all()), m.admissions.isFinished(pod.UID))
}

// activeDeadline is the time left of the pod's activeDeadlineSeconds
// (counted from its startTime), and whether it is over.
func (m *podManager) activeDeadline(pod *corev1.Pod) (time.Duration, bool) {
	if pod.Status.StartTime == nil {
		return 0, false
	}
	return activedeadline.Left(&pod.Spec, pod.Status.StartTime.Time, m.cfg.Clock.Now())
}

// failDeadline ends a pod past its active deadline, as the kubelet does.
func (m *podManager) failDeadline(ctx context.Context, pod *corev1.Pod, state *podState) error {
	m.event(pod, "", corev1.EventTypeNormal, activedeadline.Reason, activedeadline.Message)
	m.probes.stop(pod.UID, "")
	m.killContainers(ctx, pod, state, gracePeriod(pod, false), true)
	m.stopSandboxes(ctx, pod.UID, state)
	m.releaseAdmission(pod.UID)
	state, err := m.podState(ctx, pod.UID)
	if err != nil {
		return err
	}
	st := m.status(pod, state, true)
	st.Phase, st.Reason, st.Message = corev1.PodFailed, activedeadline.Reason, activedeadline.Message
	if err := m.updateStatus(ctx, pod, st); err != nil {
		return err
	}
	m.finish(pod.UID)
	return nil
}

func isTerminal(p corev1.PodPhase) bool {
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}

// admitPod admits a new pod if it fits beside the admitted ones. Pods
// that already have a sandbox (the agent restarted) are admitted as they
// are.
func (m *podManager) admitPod(pod *corev1.Pod, state *podState) *rejection {
	return m.admissions.admit(pod.UID, podRequests(pod), func(others []corev1.ResourceList) *rejection {
		if len(state.sandboxes) > 0 || (pod.Status.Phase != corev1.PodPending && pod.Status.Phase != "") {
			if err := m.devices.Allocate(pod); err != nil {
				// Running already (the agent restarted): its devices come
				// from the checkpoint; without them it runs on.
				m.log.Warn("no devices for a running pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			}
			return nil
		}
		r := admit(pod, m.node.allocatable(), others)
		if r == nil {
			if err := m.devices.Allocate(pod); err != nil {
				r = &rejection{reason: "UnexpectedAdmissionError", message: err.Error()}
			}
		}
		if r != nil {
			m.log.Info("pod rejected", "pod", pod.Namespace+"/"+pod.Name, "reason", r.reason, "message", r.message)
			m.event(pod, "", corev1.EventTypeWarning, r.reason, r.message)
		}
		return r
	})
}

// finish marks a pod Succeeded or Failed by this kubelet.
func (m *podManager) finish(uid types.UID) { m.admissions.finish(uid) }

// releaseAdmission frees the pod's place on the node and its devices.
func (m *podManager) releaseAdmission(uid types.UID) { m.admissions.release(uid) }

func backOffKey(uid types.UID, name string) string { return string(uid) + "/" + name }
func failKey(uid types.UID, name string) string    { return string(uid) + "/start/" + name }
func pullKey(uid types.UID, image string) string   { return string(uid) + "/pull/" + image }

// wake collects the earliest time a sync wants to look again.
type wake struct{ after time.Duration }

func (w *wake) at(d time.Duration) {
	if d > 0 && (w.after == 0 || d < w.after) {
		w.after = d
	}
}

// syncRunning carries out the actions for a pod that should run: its
// sandbox, volumes, the kills, the init containers, sidecars and
// containers to start; then its probes and its status.
func (m *podManager) syncRunning(ctx context.Context, pod *corev1.Pod, state *podState, acts podActions) (time.Duration, bool, error) {
	if acts.killPod || acts.createSandbox {
		var retry time.Duration
		var err error
		if state, retry, err = m.replaceSandbox(ctx, pod, state, acts); state == nil {
			return retry, false, err
		}
		acts = m.computeActions(pod, state)
		if acts.createSandbox {
			return 0, false, errors.New("the new sandbox is not ready")
		}
	}
	sc, err := m.startContext(ctx, pod, state)
	if err != nil {
		m.event(pod, "", corev1.EventTypeWarning, "FailedMount", err.Error())
		return 0, false, m.writeStatus(ctx, pod, false)
	}
	if len(acts.containersToKill) > 0 {
		m.killForRestart(ctx, pod, acts.containersToKill)
		if state, err = m.podState(ctx, pod.UID); err != nil {
			return 0, false, err
		}
	}
	m.updateResources(ctx, pod, acts.containersToUpdate)
	after := m.startContainers(ctx, sc, state, acts)
	if state, err = m.podState(ctx, pod.UID); err != nil {
		return 0, false, err
	}
	m.syncProbes(ctx, sc.pod, state)
	m.removeOldSandboxes(ctx, pod.UID, state)
	st := m.status(pod, state, false)
	if isTerminal(st.Phase) {
		return 0, false, m.finishPod(ctx, pod, state, st)
	}
	return after, false, m.updateStatus(ctx, pod, st)
}

// replaceSandbox stops the containers of a sandbox that is gone and
// creates the pod's sandbox anew, unless the pod is over. It returns the
// pod's state with the new sandbox, or nil and when to look again.
func (m *podManager) replaceSandbox(ctx context.Context, pod *corev1.Pod, state *podState, acts podActions) (*podState, time.Duration, error) {
	if acts.killPod {
		m.event(pod, "", corev1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
		m.killContainers(ctx, pod, state, acts.grace, acts.preStop)
	}
	if !acts.createSandbox {
		return nil, 0, m.writeStatus(ctx, pod, true)
	}
	sbConfig := m.sandboxConfig(pod, acts.attempt)
	for _, e := range m.podDNSEvents(pod) {
		m.event(pod, "", corev1.EventTypeWarning, e.Reason, e.Message)
	}
	_, err := m.runtimeFor(pod.UID).RunPodSandbox(ctx, sbConfig, ptr.Deref(pod.Spec.RuntimeClassName, ""))
	if err != nil {
		m.event(pod, "", corev1.EventTypeWarning, "FailedCreatePodSandBox", fmt.Sprintf("Failed to create pod sandbox: %v", err))
		if serr := m.writeStatus(ctx, pod, false); serr != nil {
			return nil, 0, serr
		}
		return nil, 2 * time.Second, nil
	}
	if state, err = m.podState(ctx, pod.UID); err != nil {
		return nil, 0, err
	}
	if state.sandbox() == nil {
		return nil, 0, errors.New("the new sandbox is not listed")
	}
	return state, 0, nil
}

// startContext is what starting the pod's containers in its sandbox
// needs: the pod with its IPs, and its volumes set up.
func (m *podManager) startContext(ctx context.Context, pod *corev1.Pod, state *podState) (*startContext, error) {
	sb := state.sandbox()
	podIP := sb.ip
	if pod.Spec.HostNetwork {
		podIP = m.cfg.NodeIP
	}
	withIP := pod.DeepCopy()
	withIP.Status.PodIP, withIP.Status.HostIP = podIP, m.cfg.NodeIP
	if podIP != "" {
		withIP.Status.PodIPs = []corev1.PodIP{{IP: podIP}}
	}
	if m.cfg.NodeIP != "" {
		withIP.Status.HostIPs = []corev1.HostIP{{IP: m.cfg.NodeIP}}
	}
	paths, err := m.deps.volumes.Setup(ctx, withIP)
	if err != nil {
		return nil, err
	}
	return &startContext{pod: withIP, sandbox: sb, sandboxConfig: m.sandboxConfig(pod, sb.attempt), paths: paths}, nil
}

// killForRestart stops the instances that failed a probe or whose spec
// changed, recording why for the restart.
func (m *podManager) killForRestart(ctx context.Context, pod *corev1.Pod, kills []containerKill) {
	for _, k := range kills {
		m.event(pod, fieldPath(pod, k.spec.Name), corev1.EventTypeNormal, "Killing", k.message)
		m.notes.setKilled(k.instance.id, k.reason)
		m.killContainer(ctx, pod, k.spec, k.instance, gracePeriod(pod, false), true, false)
		m.probes.stop(pod.UID, k.spec.Name)
	}
}

// startContainers starts the init containers, sidecars and containers
// the actions name, in order, and clears the waiting reasons of those the
// restart policy keeps stopped. state is the pod's state after the kills.
// It returns when to look again.
func (m *podManager) startContainers(ctx context.Context, sc *startContext, state *podState, acts podActions) time.Duration {
	var next wake
	for _, name := range acts.notRestarted {
		m.setWaiting(sc.pod.UID, name, "", "")
	}
	// Ephemeral containers first, as the kubelet: they are most likely
	// there to debug an init container that does not finish.
	for _, s := range acts.ephemeralToStart {
		_, _ = m.startContainer(ctx, sc, state, s.spec, 0, nil)
	}
	for _, s := range acts.initToStart {
		after, ok := m.restart(ctx, sc, state, s)
		next.at(after)
		if !ok && acts.initializing {
			return next.after
		}
	}
	for _, s := range acts.containersToStart {
		after, _ := m.restart(ctx, sc, state, s)
		next.at(after)
	}
	return next.after
}

// syncProbes runs the probes of the running sidecars and containers and
// stops those of the others.
func (m *podManager) syncProbes(ctx context.Context, withIP *corev1.Pod, state *podState) {
	for _, c := range allContainers(withIP) {
		ci := state.latest(c.Name)
		if ci != nil && ci.running() {
			m.probes.ensure(ctx, withIP, c, ci)
		} else {
			m.probes.stop(withIP.UID, c.Name)
		}
	}
}

// finishPod ends a pod whose containers are done by its restart policy:
// what is left (sidecars) and the sandbox are stopped; the containers
// stay for their logs. st is its status.
func (m *podManager) finishPod(ctx context.Context, pod *corev1.Pod, state *podState, st corev1.PodStatus) error {
	m.killContainers(ctx, pod, state, gracePeriod(pod, false), true)
	m.stopSandboxes(ctx, pod.UID, state)
	m.probes.stop(pod.UID, "")
	m.releaseAdmission(pod.UID)
	// Nothing restarts any more: the statuses are the last states.
	m.waiting.forget(pod.UID)
	if state, err := m.podState(ctx, pod.UID); err == nil {
		st = m.status(pod, state, true)
	}
	if err := m.updateStatus(ctx, pod, st); err != nil {
		return err
	}
	m.finish(pod.UID)
	return nil
}

// restart starts a container again (or the first time), unless its
// restart is in back-off. state is the pod's state now: the instance it
// replaces is taken from it. It returns when to look again and whether
// the container runs now.
func (m *podManager) restart(ctx context.Context, sc *startContext, state *podState, s containerStart) (time.Duration, bool) {
	pod, c, prev := sc.pod, s.spec, s.prev
	restartCount := 0
	if prev != nil {
		if now := state.instance(c.Name, prev.id); now != nil {
			prev = now
		}
		if prev.running() {
			// Its kill failed: it runs on.
			return 0, true
		}
		restartCount = prev.attempt + 1
		if prev.exited() {
			key := backOffKey(pod.UID, c.Name)
			if in, left := m.backOff.inBackOff(key, prev.finishedAt); in {
				msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
					m.backOff.get(key), c.Name, pod.Name, pod.Namespace, pod.UID)
				m.setWaiting(pod.UID, c.Name, reasonCrashLoopBackOff, msg)
				m.event(pod, fieldPath(pod, c.Name), corev1.EventTypeWarning, "BackOff",
					fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID))
				return left, false
			}
			m.backOff.next(key, prev.finishedAt)
		}
	}
	return m.startContainer(ctx, sc, state, c, restartCount, prev)
}

// gracePeriod is the pod's termination grace period in seconds: the
// deletion's when deleting, else the spec's.
func gracePeriod(pod *corev1.Pod, deleting bool) int64 {
	g := int64(defaultGracePeriod)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		g = *pod.Spec.TerminationGracePeriodSeconds
	}
	if deleting && pod.DeletionGracePeriodSeconds != nil {
		g = *pod.DeletionGracePeriodSeconds
	}
	return g
}

// status computes the pod's status from the runtime state.
func (m *podManager) status(pod *corev1.Pod, state *podState, terminating bool) corev1.PodStatus {
	return computeStatus(statusInput{
		pod:         pod,
		state:       state,
		runtimeName: m.runtimeName,
		hostIP:      m.cfg.NodeIP,
		now:         m.cfg.Clock.Now(),
		started: func(c *corev1.Container, id string) bool {
			return m.probes.started(pod.UID, c, id)
		},
		ready: func(c *corev1.Container, id string) bool {
			return m.probes.started(pod.UID, c, id) && m.probes.ready(pod.UID, c, id)
		},
		waiting:     m.waiting.of(pod.UID),
		termMessage: func(c *corev1.Container, ci *containerInfo) string { return m.termMessage(pod, c, ci) },
		terminating: terminating,
		resize:      m.admissions.resizeStatusOf(pod.UID),
	})
}

// writeStatus writes the status of the pod's current state.
func (m *podManager) writeStatus(ctx context.Context, pod *corev1.Pod, terminating bool) error {
	state, err := m.podState(ctx, pod.UID)
	if err != nil {
		return err
	}
	return m.updateStatus(ctx, pod, m.status(pod, state, terminating))
}

// updateStatus writes st when it differs from the pod's, retrying on
// conflicts with the conditions others own taken from the newer pod.
func (m *podManager) updateStatus(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) error {
	pods := m.cfg.Client.CoreV1().Pods(pod.Namespace)
	for attempt := 0; ; attempt++ {
		if apiequality.Semantic.DeepEqual(pod.Status, st) {
			return nil
		}
		upd := pod.DeepCopy()
		upd.Status = st
		_, err := pods.UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		if err == nil && pod.Status.Phase != corev1.PodRunning && st.Phase == corev1.PodRunning {
			if took, ok := m.starts.running(pod.UID, m.cfg.Clock.Now()); ok {
				m.metrics.podStarted(took)
			}
		}
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt >= 5 {
			return fmt.Errorf("update status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		fresh, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("update status of pod %s/%s: %w", pod.Namespace, pod.Name, gerr)
		}
		if fresh.UID != pod.UID {
			return nil
		}
		st = rebase(st, fresh.Status)
		pod = fresh
	}
}

// rebase is st, computed from an older copy of the pod, laid over the
// newer status fresh: the conditions others own and the QOS class come from
// fresh, the generation observed stays the one st was computed from (or
// fresh's, when higher), and what the kubelet wrote once stays as it wrote
// it (the start time; a condition's transition time while its status is
// the same), so a write that lost a race does not restamp them.
func rebase(st, fresh corev1.PodStatus) corev1.PodStatus {
	st.Conditions = mergeForeignConditions(st.Conditions, fresh.Conditions)
	st.QOSClass = fresh.QOSClass
	// As the kubelet's status manager: a status computed from an older
	// pod does not take back a newer generation already reported.
	st.ObservedGeneration = max(st.ObservedGeneration, fresh.ObservedGeneration)
	if fresh.StartTime != nil {
		st.StartTime = fresh.StartTime
	}
	for i, c := range st.Conditions {
		for _, f := range fresh.Conditions {
			if f.Type == c.Type && f.Status == c.Status {
				st.Conditions[i].LastTransitionTime = f.LastTransitionTime
			}
		}
	}
	return st
}

// mergeForeignConditions keeps ours and takes the others' conditions from
// fresh.
func mergeForeignConditions(ours, fresh []corev1.PodCondition) []corev1.PodCondition {
	var out []corev1.PodCondition
	for _, c := range ours {
		if kubeletCondition(c.Type) {
			out = append(out, c)
		}
	}
	for _, c := range fresh {
		if !kubeletCondition(c.Type) {
			out = append(out, c)
		}
	}
	return out
}

// syncDeleted terminates a pod being deleted: once no service proxy
// routes new connections to it (drainStep), preStop hooks, containers
// stopped within the grace period (sidecars last), the sandbox stopped,
// volumes torn down, the final status written, then the pod deleted for
// good. While it waits it returns when to look again.
func (m *podManager) syncDeleted(ctx context.Context, pod *corev1.Pod, state *podState, acts podActions) (time.Duration, error) {
	m.probes.stop(pod.UID, "")
	step := m.drainStep(pod, acts.grace)
	if step.wait > 0 {
		return step.wait, nil
	}
	m.killContainers(ctx, pod, state, step.grace, acts.preStop)
	m.stopSandboxes(ctx, pod.UID, state)
	if err := m.deps.volumes.Teardown(ctx, pod.UID); err != nil {
		m.log.Warn("tearing down volumes", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
	m.releaseAdmission(pod.UID)
	if !isTerminal(pod.Status.Phase) {
		if err := m.writeStatus(ctx, pod, true); err != nil {
			return 0, err
		}
	}
	err := m.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To(int64(0)),
		Preconditions:      &metav1.Preconditions{UID: ptr.To(pod.UID)},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return 0, fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return 0, nil
}

// drainStep decides whether the deleted pod still waits for the service
// proxies (not when the wait is off or the pod runs nothing), and with
// how much of its grace period its containers are stopped.
func (m *podManager) drainStep(pod *corev1.Pod, grace int64) drainStep {
	if m.drain == nil {
		return drainStep{grace: grace}
	}
	waited, first := m.drainStarts.since(pod.UID, m.cfg.Clock.Now())
	d := m.drain.Decide(pod)
	step := decideDrain(grace, waited, d)
	log := m.log.With("pod", pod.Namespace+"/"+pod.Name)
	switch {
	case step.wait > 0 && first:
		log.Info("waiting for the service proxies to stop routing to the pod before stopping it", "max", drainBudget(grace))
	case step.wait == 0 && waited > 0:
		if d.Wait {
			log.Warn("stopping the pod although service proxies may still route to it: its wait is over", "waited", waited, "reason", d.Reason)
		} else {
			log.Info("no service proxy routes to the pod any more; stopping it", "waited", waited, "grace", step.grace)
		}
	}
	return step
}

// stopTerminal makes sure nothing of a finished pod runs.
func (m *podManager) stopTerminal(ctx context.Context, pod *corev1.Pod, state *podState, acts podActions) error {
	m.killContainers(ctx, pod, state, acts.grace, acts.preStop)
	m.probes.stop(pod.UID, "")
	m.stopSandboxes(ctx, pod.UID, state)
	return nil
}

// cleanup removes what the runtime holds of a pod gone from the API. It
// reports whether all is gone.
func (m *podManager) cleanup(ctx context.Context, w *podWorker, state *podState) bool {
	m.probes.stop(w.uid, "")
	rt := m.runtimeFor(w.uid)
	ok := true
	for _, ci := range state.all() {
		if ci.running() {
			if err := rt.StopContainer(ctx, ci.id, 0); err != nil {
				m.log.Warn("stopping container", "id", ci.id, "err", err)
			}
		}
		if err := rt.RemoveContainer(ctx, ci.id); err != nil {
			m.log.Warn("removing container", "id", ci.id, "err", err)
			ok = false
		}
	}
	for _, sb := range state.sandboxes {
		if err := rt.StopPodSandbox(ctx, sb.id); err != nil {
			m.log.Warn("stopping sandbox", "id", sb.id, "err", err)
		}
		if err := rt.RemovePodSandbox(ctx, sb.id); err != nil {
			m.log.Warn("removing sandbox", "id", sb.id, "err", err)
			ok = false
		}
	}
	if err := m.deps.volumes.Teardown(ctx, w.uid); err != nil {
		m.log.Warn("tearing down volumes", "uid", w.uid, "err", err)
		ok = false
	}
	_ = os.RemoveAll(m.logDir(w.namespace, w.name, w.uid))
	_ = os.RemoveAll(filepath.Join(m.cfg.DataDir, "pods", string(w.uid)))
	m.backOff.forgetPrefix(string(w.uid) + "/")
	for _, ci := range state.all() {
		m.notes.forget(ci.id)
	}
	return ok
}

// killContainers stops a pod's running containers: the main containers
// together, then the sidecars one by one in reverse order, all within
// grace seconds (each gets at least minGracePeriod).
func (m *podManager) killContainers(ctx context.Context, pod *corev1.Pod, state *podState, grace int64, preStop bool) {
	deadline := m.cfg.Clock.Now().Add(time.Duration(grace) * time.Second)
	left := func() int64 {
		return int64(deadline.Sub(m.cfg.Clock.Now()).Round(time.Second) / time.Second)
	}
	var wg sync.WaitGroup
	seen := map[string]bool{}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		seen[c.Name] = true
		for _, ci := range state.containers[c.Name] {
			if !ci.running() {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.killContainer(ctx, pod, c, ci, grace, preStop, true)
			}()
		}
	}
	// Instances of containers no longer in the spec.
	for name, l := range state.containers {
		if seen[name] || specOf(pod, name) != nil {
			continue
		}
		for _, ci := range l {
			if ci.running() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := m.runtimeFor(pod.UID).StopContainer(ctx, ci.id, grace); err != nil {
						m.log.Warn("stopping container", "id", ci.id, "err", err)
					}
				}()
			}
		}
	}
	wg.Wait()
	for i := len(pod.Spec.InitContainers) - 1; i >= 0; i-- {
		c := &pod.Spec.InitContainers[i]
		for _, ci := range state.containers[c.Name] {
			if ci.running() {
				m.killContainer(ctx, pod, c, ci, max(left(), 0), preStop, true)
			}
		}
	}
}

// specOf is the pod's container (or init container) of the name;
// ephemeral containers are not among them (see ephemeralSpecOf).
func specOf(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// ephemeralSpecOf is the pod's ephemeral container of the name.
func ephemeralSpecOf(pod *corev1.Pod, name string) *corev1.Container {
	for _, c := range ephemeralContainers(pod) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// stopSandboxes stops the pod's ready sandboxes.
func (m *podManager) stopSandboxes(ctx context.Context, uid types.UID, state *podState) {
	for _, sb := range state.sandboxes {
		if !sb.ready {
			continue
		}
		err := m.runtimeFor(uid).StopPodSandbox(ctx, sb.id)
		if err != nil {
			m.log.Warn("stopping sandbox", "id", sb.id, "err", err)
		}
	}
}

// sandboxConfig is the CRI configuration of the pod's sandbox.
func (m *podManager) sandboxConfig(pod *corev1.Pod, attempt uint32) *runtimeapi.PodSandboxConfig {
	hostname := podHostname(pod, m.cfg.ClusterDomain)
	if pod.Spec.HostNetwork {
		if h, err := os.Hostname(); err == nil {
			hostname = h
		}
	}
	labels := map[string]string{}
	for k, v := range pod.Labels {
		labels[k] = v
	}
	labels[labelPodName], labels[labelPodNamespace], labels[labelPodUID] = pod.Name, pod.Namespace, string(pod.UID)
	annotations := map[string]string{}
	for k, v := range pod.Annotations {
		annotations[k] = v
	}
	var ports []*runtimeapi.PortMapping
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			proto := runtimeapi.Protocol_TCP
			switch p.Protocol {
			case corev1.ProtocolUDP:
				proto = runtimeapi.Protocol_UDP
			case corev1.ProtocolSCTP:
				proto = runtimeapi.Protocol_SCTP
			}
			ports = append(ports, &runtimeapi.PortMapping{Protocol: proto, ContainerPort: p.ContainerPort, HostPort: p.HostPort, HostIp: p.HostIP})
		}
	}
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: pod.Name, Uid: string(pod.UID), Namespace: pod.Namespace, Attempt: attempt},
		Hostname:     hostname,
		LogDirectory: m.logDir(pod.Namespace, pod.Name, pod.UID),
		PortMappings: ports,
		Labels:       labels,
		Annotations:  annotations,
		DnsConfig:    m.podDNS(pod),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent:    "/skiff/pod" + string(pod.UID),
			SecurityContext: sandboxSecurityContext(pod, m.seccompRoot()),
		},
	}
}

// logDir is PodSandboxConfig.LogDirectory of a pod.
func (m *podManager) logDir(namespace, name string, uid types.UID) string {
	return filepath.Join(m.cfg.DataDir, "logs", fmt.Sprintf("%s_%s_%s", namespace, name, uid))
}

// removeOldSandboxes removes the stopped sandboxes older than the current
// one that no container refers to any more.
func (m *podManager) removeOldSandboxes(ctx context.Context, uid types.UID, state *podState) {
	if len(state.sandboxes) < 2 {
		return
	}
	used := map[string]bool{}
	for _, ci := range state.all() {
		used[ci.sandboxID] = true
	}
	for _, sb := range state.sandboxes[1:] {
		if sb.ready || used[sb.id] {
			continue
		}
		err := m.runtimeFor(uid).RemovePodSandbox(ctx, sb.id)
		if err != nil {
			m.log.Warn("removing an old sandbox", "id", sb.id, "err", err)
		}
	}
}
