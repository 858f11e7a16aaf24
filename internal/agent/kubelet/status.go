package kubelet

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	podv1util "k8s.io/kubernetes/pkg/api/v1/pod"
	"k8s.io/utils/ptr"
)

// Waiting reasons of containers, as the kubelet reports them.
const (
	reasonContainerCreating     = "ContainerCreating"
	reasonPodInitializing       = "PodInitializing"
	reasonCrashLoopBackOff      = "CrashLoopBackOff"
	reasonErrImagePull          = "ErrImagePull"
	reasonImagePullBackOff      = "ImagePullBackOff"
	reasonErrImageNeverPull     = "ErrImageNeverPull"
	reasonCreateContainerConfig = "CreateContainerConfigError"
	reasonCreateContainer       = "CreateContainerError"
	reasonRunContainer          = "RunContainerError"
	reasonPostStartHook         = "PostStartHookError"

	reasonContainersNotReady       = "ContainersNotReady"
	reasonContainersNotInitialized = "ContainersNotInitialized"
	reasonPodCompleted             = "PodCompleted"
	reasonReadinessGatesNotReady   = "ReadinessGatesNotReady"
)

// waitingReason is why a container is not running after the last sync.
type waitingReason struct {
	reason, message string
}

// statusInput is what a pod's status is computed from.
type statusInput struct {
	pod         *corev1.Pod
	state       *podState
	runtimeName string
	hostIP      string
	now         time.Time
	// started and ready are the probe verdicts for a running container
	// instance (true when it has no such probe).
	started, ready func(c *corev1.Container, id string) bool
	// waiting holds the reasons of the last sync, by container name.
	waiting map[string]waitingReason
	// termMessage is a terminated instance's termination message.
	termMessage func(c *corev1.Container, ci *containerInfo) string
	// terminating: the pod is being deleted or is done, its containers
	// are not restarted any more.
	terminating bool
	// resize is the state of the pod's in-place resize; pod holds the
	// resources allocated to its containers.
	resize resizeStatus
}

// computeStatus is the pod's status from the runtime's view.
func computeStatus(in statusInput) corev1.PodStatus {
	pod := in.pod
	old := pod.Status
	st := *old.DeepCopy()
	st.HostIP = in.hostIP
	st.HostIPs = nil
	if in.hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: in.hostIP}}
	}
	st.PodIP, st.PodIPs = "", nil
	sb := in.state.sandbox()
	ip := ""
	if sb != nil {
		ip = sb.ip
		if pod.Spec.HostNetwork {
			ip = in.hostIP
		}
	}
	if ip == "" && old.PodIP != "" && sb != nil {
		ip = old.PodIP
	}
	if ip != "" {
		st.PodIP = ip
		st.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	if st.StartTime == nil {
		t := apiTime(in.now)
		st.StartTime = &t
	}
	st.ObservedGeneration = pod.Generation
	hasInit := len(pod.Spec.InitContainers) > 0
	st.InitContainerStatuses = withResources(in, pod.Spec.InitContainers, containerStatuses(in, pod.Spec.InitContainers, hasInit))
	markCompletedInitReady(pod.Spec.InitContainers, st.InitContainerStatuses)
	st.ContainerStatuses = withResources(in, pod.Spec.Containers, containerStatuses(in, pod.Spec.Containers, hasInit))
	if len(st.InitContainerStatuses) == 0 {
		st.InitContainerStatuses = nil
	}
	st.EphemeralContainerStatuses = nil
	if len(pod.Spec.EphemeralContainers) > 0 {
		ephemeral := make([]corev1.Container, 0, len(pod.Spec.EphemeralContainers))
		for _, c := range ephemeralContainers(pod) {
			ephemeral = append(ephemeral, *c)
		}
		st.EphemeralContainerStatuses = containerStatuses(in, ephemeral, false)
	}
	phase := podPhase(pod, st.InitContainerStatuses, st.ContainerStatuses, in.terminating)
	if old.Phase == corev1.PodSucceeded || old.Phase == corev1.PodFailed {
		phase = old.Phase
	}
	st.Phase = phase
	if phase != corev1.PodFailed {
		st.Reason, st.Message = "", ""
	}
	st.Conditions = podConditions(pod, old.Conditions, sb != nil && sb.ready, st, in.now)
	resizing := !isTerminal(phase) && !in.terminating && resizeInProgress(pod, in.state)
	st.Conditions = withResizeConditions(st.Conditions, old.Conditions, resizeConditions(in.resize, resizing, pod.Generation), in.now)
	return st
}

// markCompletedInitReady reports an init container (not a sidecar) that
// exited 0 as ready, as the kubelet does.
func markCompletedInitReady(specs []corev1.Container, statuses []corev1.ContainerStatus) {
	for i := range statuses {
		if podv1util.IsRestartableInitContainer(&specs[i]) {
			continue
		}
		if t := statuses[i].State.Terminated; t != nil && t.ExitCode == 0 {
			statuses[i].Ready = true
		}
	}
}

// withResources adds to the statuses of specs the resources allocated to
// each container and those it runs with.
func withResources(in statusInput, specs []corev1.Container, statuses []corev1.ContainerStatus) []corev1.ContainerStatus {
	for i := range statuses {
		c := &specs[i]
		statuses[i].AllocatedResources = c.Resources.DeepCopy().Requests
		statuses[i].Resources = statusResources(c, in.state.latest(c.Name))
	}
	return statuses
}

// withResizeConditions puts the resize conditions after the others, each
// keeping the transition time of the old one of its type and status.
func withResizeConditions(conds, old, resize []corev1.PodCondition, now time.Time) []corev1.PodCondition {
	for _, c := range resize {
		c.LastTransitionTime = apiTime(now)
		for _, o := range old {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime, c.LastProbeTime = o.LastTransitionTime, o.LastProbeTime
			}
		}
		conds = append(conds, c)
	}
	return conds
}

// containerStatuses are the statuses of specs, in spec order.
func containerStatuses(in statusInput, specs []corev1.Container, hasInit bool) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, 0, len(specs))
	def := reasonContainerCreating
	if hasInit {
		def = reasonPodInitializing
	}
	for i := range specs {
		c := &specs[i]
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: ptr.To(false)}
		insts := in.state.containers[c.Name]
		if len(insts) == 0 {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: def}
			if w, ok := in.waiting[c.Name]; ok {
				cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
			}
			out = append(out, cs)
			continue
		}
		latest := insts[0]
		cs.RestartCount = int32(latest.attempt)
		cs.ImageID = latest.imageRef
		cs.ContainerID = in.runtimeName + "://" + latest.id
		cs.State = instanceState(in, c, latest)
		if len(insts) > 1 && insts[1].exited() {
			cs.LastTerminationState = instanceState(in, c, insts[1])
		}
		if latest.running() {
			started := in.started == nil || in.started(c, latest.id)
			cs.Started = ptr.To(started)
			cs.Ready = started && (in.ready == nil || in.ready(c, latest.id))
		} else if w, ok := in.waiting[c.Name]; ok {
			if latest.exited() {
				cs.LastTerminationState = cs.State
			}
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}}
		}
		out = append(out, cs)
	}
	return out
}

func instanceState(in statusInput, c *corev1.Container, ci *containerInfo) corev1.ContainerState {
	switch {
	case ci.running():
		return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: apiTime(ci.startedAt)}}
	case ci.exited():
		t := &corev1.ContainerStateTerminated{
			ExitCode:    ci.exitCode,
			Reason:      ci.reason,
			Message:     ci.message,
			StartedAt:   apiTime(ci.startedAt),
			FinishedAt:  apiTime(ci.finishedAt),
			ContainerID: in.runtimeName + "://" + ci.id,
		}
		if t.Reason == "" {
			t.Reason = "Error"
			if t.ExitCode == 0 {
				t.Reason = "Completed"
			}
		}
		if in.termMessage != nil {
			if m := in.termMessage(c, ci); m != "" {
				t.Message = m
			}
		}
		return corev1.ContainerState{Terminated: t}
	default:
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reasonContainerCreating}}
	}
}

func findStatus(l []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range l {
		if l[i].Name == name {
			return &l[i]
		}
	}
	return nil
}

// anyRegularStarted reports whether a main container has run.
func anyRegularStarted(statuses []corev1.ContainerStatus) bool {
	for _, s := range statuses {
		if s.State.Running != nil || s.State.Terminated != nil || s.LastTerminationState.Terminated != nil {
			return true
		}
	}
	return false
}

// podPhase decides the pod's phase from its container statuses, as the
// kubelet does. terminating means the containers will not restart.
func podPhase(pod *corev1.Pod, initStatuses, statuses []corev1.ContainerStatus, terminating bool) corev1.PodPhase {
	pendingInit, failedInit := 0, 0
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		s := findStatus(initStatuses, c.Name)
		if s == nil {
			pendingInit++
			continue
		}
		if podv1util.IsRestartableInitContainer(c) {
			switch {
			case s.State.Running != nil:
				if s.Started == nil || !*s.Started {
					pendingInit++
				}
			case s.State.Terminated != nil:
			case s.LastTerminationState.Terminated == nil:
				pendingInit++
			}
			continue
		}
		switch {
		case s.State.Running != nil:
			pendingInit++
		case s.State.Terminated != nil:
			if s.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case s.LastTerminationState.Terminated != nil:
			if s.LastTerminationState.Terminated.ExitCode != 0 {
				failedInit++
			}
		default:
			pendingInit++
		}
	}
	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	for i := range pod.Spec.Containers {
		s := findStatus(statuses, pod.Spec.Containers[i].Name)
		switch {
		case s == nil:
			unknown++
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.LastTerminationState.Terminated != nil:
			stopped++
		case s.State.Waiting != nil:
			waiting++
		default:
			unknown++
		}
	}
	if failedInit > 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
		return corev1.PodFailed
	}
	switch {
	case pendingInit > 0 && !anyRegularStarted(statuses):
		return corev1.PodPending
	case waiting > 0:
		return corev1.PodPending
	case running > 0 && unknown == 0:
		return corev1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if terminating {
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			return corev1.PodFailed
		}
		if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways {
			return corev1.PodRunning
		}
		if stopped == succeeded {
			return corev1.PodSucceeded
		}
		if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		return corev1.PodRunning
	default:
		return corev1.PodPending
	}
}

// podConditions are the kubelet's conditions of the pod, with the
// conditions others own kept.
func podConditions(pod *corev1.Pod, old []corev1.PodCondition, sandboxReady bool, st corev1.PodStatus, now time.Time) []corev1.PodCondition {
	cond := func(t corev1.PodConditionType, ok bool, reason, message string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: message}
		if ok {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, "", ""
		}
		return c
	}
	var conds []corev1.PodCondition
	conds = append(conds, cond(corev1.PodReadyToStartContainers, sandboxReady, "", ""))

	// Initialized.
	var incomplete []string
	if !anyRegularStarted(st.ContainerStatuses) {
		for i := range pod.Spec.InitContainers {
			c := &pod.Spec.InitContainers[i]
			s := findStatus(st.InitContainerStatuses, c.Name)
			done := false
			switch {
			case s == nil:
			case podv1util.IsRestartableInitContainer(c):
				done = s.Started != nil && *s.Started
			default:
				done = s.State.Terminated != nil && s.State.Terminated.ExitCode == 0
			}
			if !done {
				incomplete = append(incomplete, c.Name)
			}
		}
	}
	initialized := cond(corev1.PodInitialized, len(incomplete) == 0, reasonContainersNotInitialized,
		fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " ")))
	if st.Phase == corev1.PodSucceeded && len(incomplete) == 0 {
		initialized.Reason = reasonPodCompleted
	}
	conds = append(conds, initialized)

	// ContainersReady and Ready.
	var unready []string
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if !podv1util.IsRestartableInitContainer(c) {
			continue
		}
		if s := findStatus(st.InitContainerStatuses, c.Name); s == nil || !s.Ready {
			unready = append(unready, c.Name)
		}
	}
	for i := range pod.Spec.Containers {
		if s := findStatus(st.ContainerStatuses, pod.Spec.Containers[i].Name); s == nil || !s.Ready {
			unready = append(unready, pod.Spec.Containers[i].Name)
		}
	}
	containersReady := cond(corev1.ContainersReady, len(unready) == 0, reasonContainersNotReady,
		fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " ")))
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		containersReady = cond(corev1.ContainersReady, false, reasonPodCompleted, "")
		if st.Phase == corev1.PodFailed {
			containersReady.Reason = reasonContainersNotReady
			containersReady.Message = fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
		}
	}
	ready := containersReady
	ready.Type = corev1.PodReady
	if ready.Status == corev1.ConditionTrue {
		if msg := unreadyGates(pod, old); msg != "" {
			ready = cond(corev1.PodReady, false, reasonReadinessGatesNotReady, msg)
		}
	}
	conds = append(conds, ready, containersReady)
	// The kubelet runs the pod, so it is scheduled: it writes the
	// condition too (a pod bound by spec.nodeName alone has it only from
	// the kubelet), observing the generation like the others.
	conds = append(conds, cond(corev1.PodScheduled, true, "", ""))

	// Transition times, and the conditions others own.
	t := apiTime(now)
	for i := range conds {
		conds[i].ObservedGeneration = pod.Generation
		conds[i].LastTransitionTime = t
		for _, o := range old {
			if o.Type == conds[i].Type && o.Status == conds[i].Status {
				conds[i].LastTransitionTime = o.LastTransitionTime
				conds[i].LastProbeTime = o.LastProbeTime
			}
		}
	}
	for _, o := range old {
		if !kubeletCondition(o.Type) {
			conds = append(conds, o)
		}
	}
	return conds
}

// kubeletCondition reports the pod conditions the kubelet owns (as
// Kubernetes' PodConditionsByKubelet); others (readiness gates,
// DisruptionTarget) are kept as they are.
func kubeletCondition(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady,
		corev1.PodScheduled, corev1.PodResizePending, corev1.PodResizeInProgress:
		return true
	}
	return false
}

// unreadyGates describes the readiness gates that are not True ("" when
// all are).
func unreadyGates(pod *corev1.Pod, conds []corev1.PodCondition) string {
	var msgs []string
	for _, g := range pod.Spec.ReadinessGates {
		var found *corev1.PodCondition
		for i := range conds {
			if conds[i].Type == g.ConditionType {
				found = &conds[i]
			}
		}
		switch {
		case found == nil:
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", g.ConditionType))
		case found.Status != corev1.ConditionTrue:
			msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", g.ConditionType, found.Status))
		}
	}
	sort.Strings(msgs)
	return strings.Join(msgs, ", ")
}
