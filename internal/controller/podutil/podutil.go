// Package podutil answers the questions about a pod that workload
// controllers share: is it active, is it terminating, is it ready, has it
// been ready long enough to count as available.
package podutil

import (
	"cmp"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ReadyCondition returns the pod's Ready condition, or nil when it has none.
func ReadyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// IsReady reports whether the pod's Ready condition is True.
func IsReady(pod *corev1.Pod) bool {
	c := ReadyCondition(pod)
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsAvailable reports whether the pod has been ready for at least
// minReadySeconds at now. With minReadySeconds zero a ready pod is
// available at once.
func IsAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := ReadyCondition(pod)
	if c == nil || c.Status != corev1.ConditionTrue {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	min := time.Duration(minReadySeconds) * time.Second
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(min).Before(now)
}

// IsTerminal reports whether the pod has finished for good (Succeeded or
// Failed).
func IsTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// IsActive reports whether the pod counts towards a controller's replicas:
// not finished and not being deleted.
func IsActive(pod *corev1.Pod) bool {
	return !IsTerminal(pod) && pod.DeletionTimestamp == nil
}

// IsTerminating reports whether the pod is being deleted but has not
// finished yet.
func IsTerminating(pod *corev1.Pod) bool {
	return !IsTerminal(pod) && pod.DeletionTimestamp != nil
}

// MaxRestarts returns the highest restart count among the pod's containers.
func MaxRestarts(pod *corev1.Pod) int32 {
	var n int32
	for _, s := range pod.Status.ContainerStatuses {
		n = max(n, s.RestartCount)
	}
	return n
}

// Key returns the pod's namespace/name key, as the informers' caches and
// work queues name it.
func Key(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// InEndpoints reports whether the pod may back a Service's endpoints: it has
// an IP, has not finished, and, unless includeTerminating, is not being
// deleted (kube-controller-manager's ShouldPodBeInEndpoints).
func InEndpoints(pod *corev1.Pod, includeTerminating bool) bool {
	if IsTerminal(pod) || (pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0) {
		return false
	}
	return includeTerminating || pod.DeletionTimestamp == nil
}

// FindPort resolves a Service port's targetPort on the pod: a number is
// itself (the Service's port when unset), a name is the port of the
// container port (of a container or a restartable init container) with that
// name and the Service port's protocol. It reports false when no container
// has the name.
func FindPort(pod *corev1.Pod, port *corev1.ServicePort) (int32, bool) {
	switch {
	case port.TargetPort.Type == intstr.String && port.TargetPort.StrVal != "":
		proto := cmp.Or(port.Protocol, corev1.ProtocolTCP)
		for i := range pod.Spec.Containers {
			if p, ok := namedPort(&pod.Spec.Containers[i], port.TargetPort.StrVal, proto); ok {
				return p, true
			}
		}
		for i := range pod.Spec.InitContainers {
			c := &pod.Spec.InitContainers[i]
			if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
				continue // an ordinary init container serves nothing
			}
			if p, ok := namedPort(c, port.TargetPort.StrVal, proto); ok {
				return p, true
			}
		}
		return 0, false
	case port.TargetPort.Type == intstr.Int && port.TargetPort.IntVal != 0:
		return port.TargetPort.IntVal, true
	default:
		return port.Port, true
	}
}

func namedPort(c *corev1.Container, name string, proto corev1.Protocol) (int32, bool) {
	for _, p := range c.Ports {
		if p.Name == name && cmp.Or(p.Protocol, corev1.ProtocolTCP) == proto {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// IPOf returns the pod's IP of the family (its first IP when family is
// empty), or "" when it has none.
func IPOf(pod *corev1.Pod, family corev1.IPFamily) string {
	ips := []string{pod.Status.PodIP}
	for _, p := range pod.Status.PodIPs {
		ips = append(ips, p.IP)
	}
	for _, s := range ips {
		a, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		if family == "" || (family == corev1.IPv4Protocol && a.Is4()) || (family == corev1.IPv6Protocol && a.Is6() && !a.Is4In6()) {
			return s
		}
	}
	return ""
}
