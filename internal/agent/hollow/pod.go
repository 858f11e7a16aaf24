package hollow

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	podv1util "k8s.io/kubernetes/pkg/api/v1/pod"

	"skiff.dev/skiff/internal/agent/activedeadline"
	"skiff.dev/skiff/internal/agent/containerevents"
)

// Pod condition reasons and messages as the kubelet writes them.
const (
	reasonContainersNotReady     = "ContainersNotReady"
	reasonPodCompleted           = "PodCompleted"
	reasonReadinessGatesNotReady = "ReadinessGatesNotReady"
	reasonCompleted              = "Completed"
	reasonError                  = "Error"
	reasonCrashLoopBackOff       = "CrashLoopBackOff"
)

// podRun is the simulated runtime state of one pod: when it started and what
// each container is doing. It lives only in memory; after a restart it is
// rebuilt from the pod's status.
type podRun struct {
	uid   types.UID
	node  string
	start time.Time
	ctrs  map[string]*ctrRun
	usage podUsage // what the running containers use, for the stats server

	// overDeadline is set once the pod's activeDeadlineSeconds has passed:
	// its containers are stopped and it fails.
	overDeadline bool
	// stopped is set once the containers were told to stop (deleted or
	// over the deadline), so that the sidecars are stopped once.
	stopped bool
	// events the kubelet would have recorded since the last sync, in
	// order; the sync records and clears them.
	events []podEvent
}

// podEvent is an event the kubelet records about a pod, or one of its
// containers when fieldPath is set.
type podEvent struct {
	fieldPath, eventType, reason, message string
}

// ctrRun is one container's simulated state.
type ctrRun struct {
	startedAt time.Time // start of the current run; zero while backing off
	restartAt time.Time // end of the back-off when startedAt is zero
	restarts  int32
	last      *corev1.ContainerStateTerminated // the previous run's end
	term      *corev1.ContainerStateTerminated // this run's end; final
}

// simConfig is what the simulation needs beside the pod.
type simConfig struct {
	runTime   time.Duration
	backOff   time.Duration
	nodeIP    string
	podIP     string
	keepGoing bool // false once the pod is being deleted: every container stops
}

// newPodRun starts a pod at now, or picks up one that a previous process
// already reported as started.
func newPodRun(pod *corev1.Pod, now time.Time) *podRun {
	r := &podRun{uid: pod.UID, start: now, ctrs: make(map[string]*ctrRun, len(pod.Spec.Containers))}
	if pod.Status.StartTime != nil {
		r.start = pod.Status.StartTime.Time
	}
	old := make(map[string]corev1.ContainerStatus, len(pod.Status.ContainerStatuses))
	for _, s := range pod.Status.ContainerStatuses {
		old[s.Name] = s
	}
	// A pod the node sees first while it is being deleted never starts.
	announce := pod.DeletionTimestamp == nil
	if announce && len(pod.Status.InitContainerStatuses) == 0 {
		for i := range pod.Spec.InitContainers {
			r.started(initFieldPath(pod.Spec.InitContainers[i].Name), &pod.Spec.InitContainers[i])
		}
	}
	for i, c := range pod.Spec.Containers {
		cr := &ctrRun{startedAt: r.start}
		if _, ok := old[c.Name]; !ok && announce {
			r.started(containerFieldPath(c.Name), &pod.Spec.Containers[i])
		}
		if s, ok := old[c.Name]; ok {
			cr.restarts = s.RestartCount
			cr.last = s.LastTerminationState.Terminated.DeepCopy()
			switch {
			case s.State.Running != nil:
				cr.startedAt = s.State.Running.StartedAt.Time
			case s.State.Terminated != nil:
				cr.startedAt = s.State.Terminated.StartedAt.Time
				cr.term = s.State.Terminated.DeepCopy()
			case s.State.Waiting != nil:
				cr.startedAt, cr.restartAt = time.Time{}, now
			}
		}
		r.ctrs[c.Name] = cr
	}
	return r
}

func initFieldPath(name string) string      { return fmt.Sprintf("spec.initContainers{%s}", name) }
func containerFieldPath(name string) string { return fmt.Sprintf("spec.containers{%s}", name) }

// event queues an event for the sync to record.
func (r *podRun) event(fieldPath, eventType, reason, message string) {
	r.events = append(r.events, podEvent{fieldPath: fieldPath, eventType: eventType, reason: reason, message: message})
}

// started queues the events of a container's start, in the kubelet's
// words: its image (pulled again under pullPolicy Always, present
// otherwise: a simulated node has every image), then Created and Started.
func (r *podRun) started(fieldPath string, c *corev1.Container) {
	if c.ImagePullPolicy == corev1.PullAlways {
		r.event(fieldPath, corev1.EventTypeNormal, containerevents.ReasonPulling, containerevents.Pulling(c.Image))
		r.event(fieldPath, corev1.EventTypeNormal, containerevents.ReasonPulled, containerevents.Pulled(c.Image, 0, 0))
	} else {
		r.event(fieldPath, corev1.EventTypeNormal, containerevents.ReasonPulled, containerevents.Present(c.Image))
	}
	r.event(fieldPath, corev1.EventTypeNormal, containerevents.ReasonCreated, containerevents.Created)
	r.event(fieldPath, corev1.EventTypeNormal, containerevents.ReasonStarted, containerevents.Started)
}

// killed queues the event of a running container the kubelet stops.
func (r *podRun) killed(fieldPath, name string) {
	r.event(fieldPath, corev1.EventTypeNormal, containerevents.ReasonKilling, containerevents.Killing(name))
}

// takeEvents returns the queued events and clears the queue.
func (r *podRun) takeEvents() []podEvent {
	evs := r.events
	r.events = nil
	return evs
}

// running returns the names of the containers running at now (after
// advance) and their start times.
func (r *podRun) running(pod *corev1.Pod, keepGoing bool) ([]string, map[string]time.Time) {
	if !keepGoing {
		return nil, nil
	}
	var names []string
	starts := map[string]time.Time{}
	for _, c := range pod.Spec.Containers {
		if cr := r.ctrs[c.Name]; cr != nil && cr.term == nil && !cr.startedAt.IsZero() {
			names = append(names, c.Name)
			starts[c.Name] = cr.startedAt
		}
	}
	return names, starts
}

// exitCode is the code the pod's containers end with.
func exitCode(pod *corev1.Pod) int32 {
	if v, ok := pod.Annotations[ExitCodeAnnotation]; ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32); err == nil {
			return int32(n)
		}
	}
	return 0
}

// runTime is how long the pod's containers run when they are meant to end.
func runTime(pod *corev1.Pod, def time.Duration) time.Duration {
	if v, ok := pod.Annotations[RunTimeAnnotation]; ok {
		if d, err := time.ParseDuration(strings.TrimSpace(v)); err == nil && d >= 0 {
			return d
		}
	}
	return def
}

func backOff(base time.Duration, restarts int32) time.Duration {
	d := base
	for i := int32(0); i < restarts && d < maxRestartBackOff; i++ {
		d *= 2
	}
	return min(d, maxRestartBackOff)
}

func terminated(code int32, started, finished time.Time, id string) *corev1.ContainerStateTerminated {
	reason := reasonCompleted
	if code != 0 {
		reason = reasonError
	}
	return &corev1.ContainerStateTerminated{
		ExitCode:    code,
		Reason:      reason,
		StartedAt:   apiTime(started),
		FinishedAt:  apiTime(finished),
		ContainerID: id,
	}
}

func apiTime(t time.Time) metav1.Time { return metav1.NewTime(t).Rfc3339Copy() }

func containerID(uid types.UID, name string, restarts int32) string {
	return fmt.Sprintf("%s%s-%s-%d", simulatedRuntimeIDPrefix, uid, name, restarts)
}

// advance moves the pod's containers forward to now: runs end, back-offs
// expire. It returns when something will next change by itself (zero:
// nothing will).
func (r *podRun) advance(pod *corev1.Pod, now time.Time, cfg simConfig) time.Time {
	var wake time.Time
	soonest := func(t time.Time) {
		if !t.IsZero() && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}
	policy := pod.Spec.RestartPolicy
	code := exitCode(pod)
	run := runTime(pod, cfg.runTime)
	if cfg.keepGoing && !r.overDeadline {
		left, over := activedeadline.Left(&pod.Spec, r.start, now)
		switch {
		case over:
			r.overDeadline = true
			r.event("", corev1.EventTypeNormal, activedeadline.Reason, activedeadline.Message)
		case left > 0:
			soonest(now.Add(left))
		}
	}
	stop := !cfg.keepGoing || r.overDeadline
	for i, c := range pod.Spec.Containers {
		cr := r.ctrs[c.Name]
		if cr == nil || cr.term != nil {
			continue
		}
		if stop {
			// The pod is being deleted, or ran past its deadline: the
			// container stops now, cleanly.
			if cr.startedAt.IsZero() {
				cr.term = terminated(0, now, now, containerID(r.uid, c.Name, cr.restarts))
			} else {
				r.killed(containerFieldPath(c.Name), c.Name)
				cr.term = terminated(0, cr.startedAt, now, containerID(r.uid, c.Name, cr.restarts))
			}
			continue
		}
		if cr.startedAt.IsZero() { // backing off
			if now.Before(cr.restartAt) {
				soonest(cr.restartAt)
				continue
			}
			cr.startedAt, cr.restartAt = now, time.Time{}
			cr.restarts++
			r.started(containerFieldPath(c.Name), &pod.Spec.Containers[i])
		}
		if policy == corev1.RestartPolicyAlways {
			continue
		}
		end := cr.startedAt.Add(run)
		if now.Before(end) {
			soonest(end)
			continue
		}
		t := terminated(code, cr.startedAt, end, containerID(r.uid, c.Name, cr.restarts))
		if policy == corev1.RestartPolicyOnFailure && code != 0 {
			cr.last = t
			cr.startedAt = time.Time{}
			cr.restartAt = end.Add(backOff(cfg.backOff, cr.restarts))
			if now.Before(cr.restartAt) {
				soonest(cr.restartAt)
			} else {
				soonest(now)
			}
			continue
		}
		cr.term = t
	}
	if stop && !r.stopped {
		// The sidecars stop after the main containers.
		r.stopped = true
		for _, c := range pod.Spec.InitContainers {
			if podv1util.IsRestartableInitContainer(&c) {
				r.killed(initFieldPath(c.Name), c.Name)
			}
		}
	}
	return wake
}

// status builds the status the kubelet would report for the pod at now,
// keeping the fields it does not own and the transition times of conditions
// that did not change. It also returns when the status will next change by
// itself (readiness delays), zero if never.
func (r *podRun) status(pod *corev1.Pod, now time.Time, cfg simConfig) (corev1.PodStatus, time.Time) {
	var wake time.Time
	soonest := func(t time.Time) {
		if !t.IsZero() && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}
	old := pod.Status
	st := corev1.PodStatus{
		QOSClass:          old.QOSClass,
		NominatedNodeName: old.NominatedNodeName,
		HostIP:            cfg.nodeIP,
		HostIPs:           []corev1.HostIP{{IP: cfg.nodeIP}},
		StartTime:         old.StartTime,
		Resize:            old.Resize,
		// A simulated node applies a resize at once: what it observed is
		// the pod's generation, and its containers run with the resources
		// the spec asks.
		ObservedGeneration: pod.Generation,
	}
	if st.StartTime == nil {
		t := apiTime(r.start)
		st.StartTime = &t
	}
	if cfg.podIP != "" {
		st.PodIP = cfg.podIP
		st.PodIPs = []corev1.PodIP{{IP: cfg.podIP}}
	}

	for _, c := range pod.Spec.InitContainers {
		s := corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: simulatedRuntimeIDPrefix + c.Image,
			ContainerID: containerID(r.uid, c.Name, 0),
			Started:     new(bool),
		}
		switch {
		case podv1util.IsRestartableInitContainer(&c) && cfg.keepGoing && !r.overDeadline:
			// A sidecar: runs beside the main containers.
			s.State.Running = &corev1.ContainerStateRunning{StartedAt: apiTime(r.start)}
			*s.Started, s.Ready = true, true
		case podv1util.IsRestartableInitContainer(&c):
			s.State.Terminated = terminated(0, r.start, now, s.ContainerID)
		default:
			// Ran to completion at once; an init container that exited 0
			// is ready, as the kubelet reports it.
			s.State.Terminated = terminated(0, r.start, r.start, s.ContainerID)
			s.Ready = true
		}
		s.Resources, s.AllocatedResources = c.Resources.DeepCopy(), c.Resources.DeepCopy().Requests
		st.InitContainerStatuses = append(st.InitContainerStatuses, s)
	}

	var unready []string
	allDone, anyFailed := true, false
	for _, c := range pod.Spec.Containers {
		cr := r.ctrs[c.Name]
		s := corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: simulatedRuntimeIDPrefix + c.Image,
			ContainerID:  containerID(r.uid, c.Name, cr.restarts),
			RestartCount: cr.restarts,
			Started:      new(bool),
			Resources:    c.Resources.DeepCopy(),
		}
		s.AllocatedResources = s.Resources.DeepCopy().Requests
		if cr.last != nil {
			s.LastTerminationState.Terminated = cr.last.DeepCopy()
		}
		switch {
		case cr.term != nil:
			s.State.Terminated = cr.term.DeepCopy()
			if cr.term.ExitCode != 0 {
				anyFailed = true
			}
		case cr.startedAt.IsZero():
			allDone = false
			s.ContainerID = ""
			s.State.Waiting = &corev1.ContainerStateWaiting{
				Reason: reasonCrashLoopBackOff,
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
					backOff(cfg.backOff, cr.restarts-1), c.Name, pod.Name, pod.Namespace, pod.UID),
			}
			if cr.last != nil {
				s.ContainerID = cr.last.ContainerID
			}
		default:
			allDone = false
			s.State.Running = &corev1.ContainerStateRunning{StartedAt: apiTime(cr.startedAt)}
			startedAt := cr.startedAt
			if p := c.StartupProbe; p != nil {
				startedAt = cr.startedAt.Add(time.Duration(p.InitialDelaySeconds) * time.Second)
			}
			*s.Started = !now.Before(startedAt)
			readyAt := startedAt
			if p := c.ReadinessProbe; p != nil {
				readyAt = startedAt.Add(time.Duration(p.InitialDelaySeconds) * time.Second)
			}
			s.Ready = !now.Before(readyAt)
			if !*s.Started {
				soonest(startedAt)
			}
			if !s.Ready {
				soonest(readyAt)
			}
		}
		if !s.Ready {
			unready = append(unready, c.Name)
		}
		st.ContainerStatuses = append(st.ContainerStatuses, s)
	}

	switch {
	case r.overDeadline:
		st.Phase, st.Reason, st.Message = corev1.PodFailed, activedeadline.Reason, activedeadline.Message
	case len(pod.Spec.Containers) > 0 && allDone && anyFailed:
		st.Phase = corev1.PodFailed
	case len(pod.Spec.Containers) > 0 && allDone:
		st.Phase = corev1.PodSucceeded
	default:
		st.Phase = corev1.PodRunning
	}
	terminal := st.Phase != corev1.PodRunning
	if terminal {
		for i := range st.InitContainerStatuses {
			s := &st.InitContainerStatuses[i]
			if s.State.Running != nil {
				s.State = corev1.ContainerState{Terminated: terminated(0, r.start, now, s.ContainerID)}
				*s.Started, s.Ready = false, false
			}
		}
	}

	conds := kubeletConditions(pod, st.Phase, unready, terminal)
	st.Conditions = mergeConditions(old.Conditions, conds, pod.Generation, now)
	return st, wake
}

// kubeletConditions are the pod conditions the kubelet owns, in its order.
func kubeletConditions(pod *corev1.Pod, phase corev1.PodPhase, unready []string, terminal bool) []corev1.PodCondition {
	sandbox := corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue}
	if terminal {
		sandbox.Status = corev1.ConditionFalse
	}
	initialized := corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
	if phase == corev1.PodSucceeded {
		initialized.Reason = reasonPodCompleted
	}
	containersReady := corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}
	switch {
	case phase == corev1.PodSucceeded:
		containersReady.Status, containersReady.Reason = corev1.ConditionFalse, reasonPodCompleted
	case len(unready) > 0:
		containersReady.Status, containersReady.Reason = corev1.ConditionFalse, reasonContainersNotReady
		containersReady.Message = fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	}
	ready := corev1.PodCondition{Type: corev1.PodReady, Status: containersReady.Status, Reason: containersReady.Reason, Message: containersReady.Message}
	if ready.Status == corev1.ConditionTrue {
		var msgs []string
		for _, g := range pod.Spec.ReadinessGates {
			c := findCondition(pod.Status.Conditions, g.ConditionType)
			switch {
			case c == nil:
				msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", g.ConditionType))
			case c.Status != corev1.ConditionTrue:
				msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", g.ConditionType, c.Status))
			}
		}
		if len(msgs) > 0 {
			ready.Status, ready.Reason, ready.Message = corev1.ConditionFalse, reasonReadinessGatesNotReady, strings.Join(msgs, ", ")
		}
	}
	scheduled := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}
	if c := findCondition(pod.Status.Conditions, corev1.PodScheduled); c != nil {
		scheduled = *c
	}
	return []corev1.PodCondition{sandbox, initialized, ready, containersReady, scheduled}
}

var kubeletOwned = map[corev1.PodConditionType]bool{
	corev1.PodReadyToStartContainers: true, corev1.PodInitialized: true, corev1.PodReady: true,
	corev1.ContainersReady: true, corev1.PodScheduled: true,
}

// mergeConditions keeps the conditions others own, replaces the kubelet's
// (observing generation), and keeps a condition's lastTransitionTime while its status is unchanged.
func mergeConditions(old, kubelet []corev1.PodCondition, generation int64, now time.Time) []corev1.PodCondition {
	out := make([]corev1.PodCondition, 0, len(old)+len(kubelet))
	for _, c := range kubelet {
		c.ObservedGeneration = generation
		if prev := findCondition(old, c.Type); prev != nil && prev.Status == c.Status {
			c.LastTransitionTime = prev.LastTransitionTime
			c.LastProbeTime = prev.LastProbeTime
		} else {
			c.LastTransitionTime = apiTime(now)
		}
		out = append(out, c)
	}
	for _, c := range old {
		if !kubeletOwned[c.Type] {
			out = append(out, c)
		}
	}
	return out
}

func findCondition(conds []corev1.PodCondition, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}
