package kubelet

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	podv1util "k8s.io/kubernetes/pkg/api/v1/pod"
)

// podActions is what one sync does to a pod's sandbox and containers.
// computePodActions decides it before anything is done; the sync then
// carries it out (sync.go), as the kubelet's kuberuntime manager does.
type podActions struct {
	// killPod stops all of the pod's containers (the main containers
	// together, then the sidecars in reverse order) within grace seconds,
	// running their preStop hooks when preStop is set.
	killPod bool
	why     podKillReason
	grace   int64
	preStop bool

	// createSandbox creates the pod's sandbox, numbered attempt (a
	// replaced sandbox's attempt plus one). What runs in it is decided
	// once it is there.
	createSandbox bool
	attempt       uint32

	// containersToKill are running instances stopped before the starts.
	containersToKill []containerKill
	// containersToUpdate are running instances whose resources change in
	// place (an in-place resize whose resizePolicy needs no restart).
	containersToUpdate []containerUpdate
	// initToStart are the init containers and sidecars to start, in
	// order.
	initToStart []containerStart
	// initializing: no main container has run yet, so each start in
	// initToStart waits for the ones before it: a failed start ends the
	// starts of this sync.
	initializing bool
	// containersToStart are the main containers to start.
	containersToStart []containerStart
	// ephemeralToStart are the ephemeral containers (kubectl debug) that
	// never ran: they start once, first, and are never restarted.
	ephemeralToStart []containerStart
	// notRestarted are the stopped containers the restart policy keeps
	// stopped (their waiting reasons are cleared).
	notRestarted []string
}

// podKillReason is why all of a pod's containers are stopped.
type podKillReason int

const (
	// podSandboxChanged: the sandbox is gone (not ready); a new one
	// replaces it.
	podSandboxChanged podKillReason = iota + 1
	// podNeverRestarted: the sandbox is gone and the pod's containers are
	// never restarted: the pod is over.
	podNeverRestarted
	// podDeleted: the pod is being deleted, within its deletion's grace
	// period.
	podDeleted
	// podFinished: the pod is Succeeded or Failed (its restart policy ran
	// out); what still runs of it is stopped.
	podFinished
)

// containerKill is a running instance to stop, and why.
type containerKill struct {
	spec     *corev1.Container
	instance *containerInfo
	reason   killReason
	// message is the Killing event's.
	message string
}

// containerStart is a container to start: the first time, or again after
// prev.
type containerStart struct {
	spec *corev1.Container
	prev *containerInfo
}

// probeResults are the liveness and startup verdicts of a pod's container
// instances, by instance ID (probeUnknown where there is none).
type probeResults map[string]instanceVerdicts

type instanceVerdicts struct {
	liveness, startup probeResult
}

// failed reports a liveness or startup probe that failed for the instance.
func (r probeResults) failed(id string) (probeKind, bool) {
	v := r[id]
	switch {
	case v.liveness == probeFailure:
		return liveness, true
	case v.startup == probeFailure:
		return startup, true
	}
	return 0, false
}

// started: the instance passed its startup probe, or c has none.
func (r probeResults) started(c *corev1.Container, id string) bool {
	return c.StartupProbe == nil || r[id].startup == probeSuccess
}

// computePodActions decides what a sync does to a pod, from the pod, its
// runtime state, the probe verdicts of its containers, why the kubelet
// killed the instances it killed, and whether the kubelet finished the pod.
// It calls nothing: the same inputs give the same actions.
func computePodActions(pod *corev1.Pod, state *podState, probes probeResults, killed map[string]killReason, finished bool) podActions {
	switch {
	case pod.DeletionTimestamp != nil:
		return podActions{killPod: true, why: podDeleted, grace: gracePeriod(pod, true), preStop: true}
	case isTerminal(pod.Status.Phase) || finished:
		return podActions{killPod: true, why: podFinished, grace: gracePeriod(pod, false), preStop: true}
	}
	if sb := state.sandbox(); sb == nil || !sb.ready {
		if sb == nil {
			return podActions{createSandbox: true}
		}
		if pod.Spec.RestartPolicy == corev1.RestartPolicyNever && len(state.containers) > 0 {
			// Never restarted: the pod is over.
			return podActions{killPod: true, why: podNeverRestarted}
		}
		return podActions{killPod: true, why: podSandboxChanged, createSandbox: true, attempt: sb.attempt + 1}
	}

	var acts podActions
	for _, c := range ephemeralContainers(pod) {
		if state.latest(c.Name) == nil {
			acts.ephemeralToStart = append(acts.ephemeralToStart, containerStart{spec: c})
		}
	}
	// Liveness and startup failures and changed specs: killed first.
	stopping := map[string]killReason{}
	for _, c := range allContainers(pod) {
		ci := state.latest(c.Name)
		if ci == nil || !ci.running() {
			continue
		}
		reason, message := killFor(c, ci, probes)
		if reason == 0 {
			if _, update := resizeFor(c, ci); update != nil {
				acts.containersToUpdate = append(acts.containersToUpdate, containerUpdate{spec: c, instance: ci, resources: update})
			}
			continue
		}
		acts.containersToKill = append(acts.containersToKill, containerKill{spec: c, instance: ci, reason: reason, message: message})
		stopping[ci.id] = reason
	}
	// runs: the instance runs on after the kills.
	runs := func(ci *containerInfo) bool { return ci != nil && ci.running() && stopping[ci.id] == 0 }

	initDone := false
	for i := range pod.Spec.Containers {
		if len(state.containers[pod.Spec.Containers[i].Name]) > 0 {
			initDone = true
		}
	}
	acts.initializing = !initDone
	initialized := computeInitActions(pod, state, probes, runs, initDone, &acts)
	if !initialized && !initDone {
		return acts
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		ci := state.latest(c.Name)
		if runs(ci) {
			continue
		}
		if ci != nil && !restartAfter(pod, ci, stopping, killed) {
			acts.notRestarted = append(acts.notRestarted, c.Name)
			continue
		}
		acts.containersToStart = append(acts.containersToStart, containerStart{spec: c, prev: ci})
	}
	return acts
}

// killFor is why a running instance is killed, if it is (0 if not): its
// spec changed, its liveness or startup probe failed, or its resources
// changed with a resizePolicy that restarts it; and the Killing event's
// message.
func killFor(c *corev1.Container, ci *containerInfo, probes probeResults) (killReason, string) {
	if ci.hash != "" && ci.hash != containerHash(c) {
		return killedSpec, fmt.Sprintf("Container %s definition changed, will be restarted", c.Name)
	}
	kind, failed := probes.failed(ci.id)
	switch {
	case failed && kind == liveness:
		return killedLiveness, fmt.Sprintf("Container %s failed liveness probe, will be restarted", c.Name)
	case failed:
		return killedStartup, fmt.Sprintf("Container %s failed startup probe, will be restarted", c.Name)
	}
	if restart, _ := resizeFor(c, ci); restart {
		return killedResize, fmt.Sprintf("Container %s resize requires restart", c.Name)
	}
	return 0, ""
}

// computeInitActions adds the init containers and sidecars to start, in
// order, and reports whether the pod is initialized once they started.
// Before the pod is initialized a regular init container runs alone, and
// a sidecar with a startup probe must pass it before the next one starts.
func computeInitActions(pod *corev1.Pod, state *podState, probes probeResults, runs func(*containerInfo) bool, initDone bool, acts *podActions) bool {
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		ci := state.latest(c.Name)
		if podv1util.IsRestartableInitContainer(c) {
			switch {
			case !runs(ci):
				acts.initToStart = append(acts.initToStart, containerStart{spec: c, prev: ci})
				if c.StartupProbe != nil && !initDone {
					return false
				}
			case !initDone && !probes.started(c, ci.id):
				return false
			}
			continue
		}
		if initDone || (ci != nil && ci.exited() && ci.exitCode == 0) {
			continue
		}
		switch {
		case ci != nil && ci.running():
		case ci != nil && ci.exited() && pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
			acts.notRestarted = append(acts.notRestarted, c.Name)
		default:
			acts.initToStart = append(acts.initToStart, containerStart{spec: c, prev: ci})
		}
		return false
	}
	return true
}

// restartAfter applies the restart policy to an instance that is not
// running, or is stopped by this sync.
func restartAfter(pod *corev1.Pod, ci *containerInfo, stopping, killed map[string]killReason) bool {
	if r, ok := stopping[ci.id]; ok {
		return shouldRestart(pod, ci, true, r)
	}
	return shouldRestart(pod, ci, false, killed[ci.id])
}

// shouldRestart applies the pod's restart policy to a stopped instance
// (or one stopping now, for killed), killed by the kubelet for killed
// when not 0.
func shouldRestart(pod *corev1.Pod, ci *containerInfo, stopping bool, killed killReason) bool {
	if !stopping && !ci.exited() {
		return true
	}
	switch {
	case killed == killedSpec || killed == killedResize:
		return true
	case pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
		return false
	case pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure:
		return ci.exitCode != 0 || killed.byProbe()
	default:
		return true
	}
}

// ephemeralContainers are the pod's ephemeral containers as containers
// (the fields they may not set are empty).
func ephemeralContainers(pod *corev1.Pod) []*corev1.Container {
	var out []*corev1.Container
	for i := range pod.Spec.EphemeralContainers {
		out = append(out, (*corev1.Container)(&pod.Spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
	return out
}

// allContainers is the pod's sidecars and containers.
func allContainers(pod *corev1.Pod) []*corev1.Container {
	var out []*corev1.Container
	for i := range pod.Spec.InitContainers {
		if podv1util.IsRestartableInitContainer(&pod.Spec.InitContainers[i]) {
			out = append(out, &pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		out = append(out, &pod.Spec.Containers[i])
	}
	return out
}
