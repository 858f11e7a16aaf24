package podenv

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// PodFieldValue is the value of a downward API field path of pod (the
// fieldRef of an env var or of a downwardAPI volume item). podIP and hostIP
// are the addresses the node knows now; status.podIPs and status.hostIPs
// list them first, then the other addresses of the pod's status, joined with
// commas. metadata.labels and metadata.annotations give every entry as
// key="value" lines in key order.
func PodFieldValue(pod *corev1.Pod, fieldPath, podIP, hostIP string) (string, error) {
	if key, ok := subscript(fieldPath, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(fieldPath, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	switch fieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP":
		if podIP == "" {
			podIP = pod.Status.PodIP
		}
		return podIP, nil
	case "status.podIPs":
		ips := make([]string, 0, len(pod.Status.PodIPs))
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		return joinIPs(podIP, ips), nil
	case "status.hostIP":
		if hostIP == "" {
			hostIP = pod.Status.HostIP
		}
		return hostIP, nil
	case "status.hostIPs":
		ips := make([]string, 0, len(pod.Status.HostIPs))
		for _, ip := range pod.Status.HostIPs {
			ips = append(ips, ip.IP)
		}
		return joinIPs(hostIP, ips), nil
	}
	return "", fmt.Errorf("unsupported fieldPath: %s", fieldPath)
}

// subscript returns x for a path of the form prefix['x'].
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return strings.Join(lines, "\n")
}

// joinIPs lists first (when set) then the other addresses, without repeats.
func joinIPs(first string, others []string) string {
	var out []string
	if first != "" {
		out = append(out, first)
	}
	for _, ip := range others {
		if ip != "" && ip != first {
			out = append(out, ip)
		}
	}
	return strings.Join(out, ",")
}

// ContainerResourceValue is the value of a resourceFieldRef (limits.cpu,
// requests.memory, ...) for container c of pod, or for the container that
// ref.ContainerName names when set, in units of ref.Divisor (1 when unset),
// rounded up. A limit the container does not set is the node's allocatable
// amount, as the kubelet reports it.
func ContainerResourceValue(ref *corev1.ResourceFieldSelector, pod *corev1.Pod, c *corev1.Container, allocatable corev1.ResourceList) (string, error) {
	if ref.ContainerName != "" && (c == nil || c.Name != ref.ContainerName) {
		c = findContainer(pod, ref.ContainerName)
		if c == nil {
			return "", fmt.Errorf("container %s not found", ref.ContainerName)
		}
	}
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef %s names no container", ref.Resource)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("unsupported container resource : %s", ref.Resource)
	}
	list := c.Resources.Requests
	if kind == "limits" {
		list = mergedLimits(c.Resources.Limits, allocatable)
	}
	q := list[corev1.ResourceName(name)]
	switch {
	case name == string(corev1.ResourceCPU):
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	case name == string(corev1.ResourceMemory), name == string(corev1.ResourceEphemeralStorage),
		strings.HasPrefix(name, corev1.ResourceHugePagesPrefix):
		return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
	}
	return "", fmt.Errorf("unsupported container resource : %s", ref.Resource)
}

// mergedLimits fills the cpu, memory and ephemeral-storage limits the
// container leaves unset (or zero) from the node's allocatable resources.
func mergedLimits(limits, allocatable corev1.ResourceList) corev1.ResourceList {
	out := make(corev1.ResourceList, len(limits)+3)
	for k, v := range limits {
		out[k] = v
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := out[name]; ok && !q.IsZero() {
			continue
		}
		if q, ok := allocatable[name]; ok {
			out[name] = q.DeepCopy()
		}
	}
	return out
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
