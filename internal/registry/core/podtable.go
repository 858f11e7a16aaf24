package core

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff.dev/skiff/internal/registry/store"
)

// podRow renders READY, STATUS, RESTARTS, AGE and the wide columns the way
// kubectl's pod printer does.
func podRow(obj runtime.Object) ([]interface{}, error) {
	pod := obj.(*corev1.Pod)
	sum := summarizePod(pod)
	restarts := strconv.Itoa(sum.restarts)
	if sum.restarts != 0 && !sum.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", sum.restarts, store.Age(sum.lastRestart))
	}
	podIP := ""
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	}
	gates := "<none>"
	if len(pod.Spec.ReadinessGates) > 0 {
		trueCount := 0
		for _, g := range pod.Spec.ReadinessGates {
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType {
					if c.Status == corev1.ConditionTrue {
						trueCount++
					}
					break
				}
			}
		}
		gates = fmt.Sprintf("%d/%d", trueCount, len(pod.Spec.ReadinessGates))
	}
	return []interface{}{
		fmt.Sprintf("%d/%d", sum.ready, sum.total),
		sum.reason,
		restarts,
		store.Age(pod.CreationTimestamp),
		orNone(podIP),
		orNone(pod.Spec.NodeName),
		orNone(pod.Status.NominatedNodeName),
		gates,
	}, nil
}

// PodStatusReason is the STATUS column of kubectl get pods: the phase or
// status reason, refined by the init and regular containers' states
// (Init:0/1, Init:CrashLoopBackOff, ContainerCreating, CrashLoopBackOff,
// Completed, Error, ExitCode:N, ...), SchedulingGated, and Terminating (or
// Unknown on a lost node) once deletion started.
func PodStatusReason(pod *corev1.Pod) string {
	return summarizePod(pod).reason
}

// podSummary is what kubectl's pod printer derives from a pod's status.
type podSummary struct {
	ready, total int
	reason       string
	restarts     int
	lastRestart  metav1.Time
}

func isRestartableInit(c *corev1.Container) bool {
	return c != nil && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func podConditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// summarizePod follows kubectl's printer: READY counts ready regular
// containers and started sidecars (restartable init containers); RESTARTS
// counts init containers while the pod initializes, then the regular
// containers and sidecars.
func summarizePod(pod *corev1.Pod) podSummary {
	sum := podSummary{total: len(pod.Spec.Containers), reason: string(pod.Status.Phase)}
	if pod.Status.Reason != "" {
		sum.reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			sum.reason = corev1.PodReasonSchedulingGated
		}
	}
	inits := make(map[string]*corev1.Container, len(pod.Spec.InitContainers))
	for i := range pod.Spec.InitContainers {
		inits[pod.Spec.InitContainers[i].Name] = &pod.Spec.InitContainers[i]
		if isRestartableInit(&pod.Spec.InitContainers[i]) {
			sum.total++
		}
	}
	later := func(t *metav1.Time, s corev1.ContainerStatus) {
		if term := s.LastTerminationState.Terminated; term != nil && t.Before(&term.FinishedAt) {
			*t = term.FinishedAt
		}
	}

	sidecarRestarts := 0
	var lastSidecarRestart metav1.Time
	initializing := false
	for i, s := range pod.Status.InitContainerStatuses {
		sum.restarts += int(s.RestartCount)
		later(&sum.lastRestart, s)
		sidecar := isRestartableInit(inits[s.Name])
		if sidecar {
			sidecarRestarts += int(s.RestartCount)
			later(&lastSidecarRestart, s)
		}
		term := s.State.Terminated
		switch {
		case term != nil && term.ExitCode == 0:
			continue
		case sidecar && s.Started != nil && *s.Started:
			if s.Ready {
				sum.ready++
			}
			continue
		case term != nil:
			switch {
			case term.Reason != "":
				sum.reason = "Init:" + term.Reason
			case term.Signal != 0:
				sum.reason = fmt.Sprintf("Init:Signal:%d", term.Signal)
			default:
				sum.reason = fmt.Sprintf("Init:ExitCode:%d", term.ExitCode)
			}
		case s.State.Waiting != nil && s.State.Waiting.Reason != "" && s.State.Waiting.Reason != "PodInitializing":
			sum.reason = "Init:" + s.State.Waiting.Reason
		default:
			sum.reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		initializing = true
		break
	}

	if !initializing || podConditionTrue(pod, corev1.PodInitialized) {
		sum.restarts, sum.lastRestart = sidecarRestarts, lastSidecarRestart
		hasRunning := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			s := pod.Status.ContainerStatuses[i]
			sum.restarts += int(s.RestartCount)
			later(&sum.lastRestart, s)
			term := s.State.Terminated
			switch {
			case s.State.Waiting != nil && s.State.Waiting.Reason != "":
				sum.reason = s.State.Waiting.Reason
			case term != nil && term.Reason != "":
				sum.reason = term.Reason
			case term != nil && term.Signal != 0:
				sum.reason = fmt.Sprintf("Signal:%d", term.Signal)
			case term != nil:
				sum.reason = fmt.Sprintf("ExitCode:%d", term.ExitCode)
			case s.Ready && s.State.Running != nil:
				hasRunning = true
				sum.ready++
			}
		}
		if sum.reason == "Completed" && hasRunning {
			if podConditionTrue(pod, corev1.PodReady) {
				sum.reason = "Running"
			} else {
				sum.reason = "NotReady"
			}
		}
	}

	if pod.DeletionTimestamp != nil {
		switch {
		case pod.Status.Reason == nodeUnreachablePodReason:
			sum.reason = "Unknown"
		case pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
			sum.reason = "Terminating"
		}
	}
	return sum
}
