package kubelet

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"

	"skiff.dev/skiff/internal/agent/kubeletserver"
)

// Container implements kubeletserver.PodSource. It picks the instance the
// way the kubelet does, from the container's status: the running one, or
// the last terminated one; with previous, the one in lastState.
func (m *podManager) Container(namespace, name, container string, previous bool) (kubeletserver.ContainerRef, error) {
	pod, err := m.lister.Pods(namespace).Get(name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return kubeletserver.ContainerRef{}, kubeletserver.PodNotFound(name)
		}
		return kubeletserver.ContainerRef{}, err
	}
	if specOf(pod, container) == nil && ephemeralSpecOf(pod, container) == nil {
		return kubeletserver.ContainerRef{}, kubeletserver.ContainerNotFound(container, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	state, err := inspect(ctx, m.rt, pod.UID)
	if err != nil {
		return kubeletserver.ContainerRef{}, err
	}
	st := m.status(pod, state, false)
	cs := findStatus(st.ContainerStatuses, container)
	if cs == nil {
		cs = findStatus(st.InitContainerStatuses, container)
	}
	if cs == nil {
		cs = findStatus(st.EphemeralContainerStatuses, container)
	}
	if cs == nil {
		return kubeletserver.ContainerRef{}, kubeletserver.ContainerNotFound(container, name)
	}
	last := cs.LastTerminationState.Terminated
	var id string
	switch {
	case previous:
		if last == nil || last.ContainerID == "" {
			return kubeletserver.ContainerRef{}, kubeletserver.PreviousNotFound(container, name)
		}
		id = last.ContainerID
	case cs.State.Running != nil:
		id = cs.ContainerID
	case cs.State.Terminated != nil:
		id = cs.State.Terminated.ContainerID
	case last != nil:
		id = last.ContainerID
	default:
		reason := reasonContainerCreating
		if cs.State.Waiting != nil {
			reason = cs.State.Waiting.Reason
		}
		switch reason {
		case reasonErrImagePull:
			reason = "image can't be pulled"
		case reasonImagePullBackOff:
			reason = "trying and failing to pull image"
		}
		return kubeletserver.ContainerRef{}, kubeletserver.ContainerNotStarted(container, name, reason)
	}
	if i := strings.Index(id, "://"); i >= 0 {
		id = id[i+3:]
	}
	for _, ci := range state.containers[container] {
		if ci.id == id {
			return kubeletserver.ContainerRef{ID: ci.id, LogPath: m.logPath(pod, ci)}, nil
		}
	}
	return kubeletserver.ContainerRef{}, kubeletserver.ContainerNotFound(container, name)
}

// logPath is the CRI log file of a container instance.
func (m *podManager) logPath(pod *corev1.Pod, ci *containerInfo) string {
	if filepath.IsAbs(ci.logPath) {
		return ci.logPath
	}
	return filepath.Join(m.logDir(pod.Namespace, pod.Name, pod.UID), ci.name, strconv.Itoa(ci.attempt)+".log")
}

// List implements kubeletserver.PodSource: the pods bound to this node.
func (m *podManager) List() ([]*corev1.Pod, error) {
	return m.lister.List(labels.Everything())
}

// Sandbox implements kubeletserver.PodSource.
func (m *podManager) Sandbox(namespace, name string) (string, error) {
	pod, err := m.lister.Pods(namespace).Get(name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return "", kubeletserver.PodNotFound(name)
		}
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	state, err := inspect(ctx, m.rt, pod.UID)
	if err != nil {
		return "", err
	}
	sb := state.sandbox()
	if sb == nil || !sb.ready {
		return "", apierrors.NewBadRequest("pod " + name + " has no running sandbox")
	}
	return sb.id, nil
}
