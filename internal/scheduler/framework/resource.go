package framework

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Defaults that kube-scheduler assumes, for scoring only, for a container
// that requests no cpu or memory, so that such pods still spread.
const (
	DefaultMilliCPURequest int64 = 100               // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

var nonZeroDefaults = corev1.ResourceList{
	corev1.ResourceCPU:    *resource.NewMilliQuantity(DefaultMilliCPURequest, resource.DecimalSI),
	corev1.ResourceMemory: *resource.NewQuantity(DefaultMemoryRequest, resource.BinarySI),
}

// Resource is an amount of every resource the scheduler accounts for: cpu in
// millicores, memory and ephemeral storage in bytes, and scalar resources
// (extended resources such as nvidia.com/gpu, hugepages) in their units.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	Scalar           map[corev1.ResourceName]int64
}

// NewResource converts a ResourceList. Resources the scheduler does not
// account for (pods, which is counted separately, and unknown native names)
// are skipped.
func NewResource(list corev1.ResourceList) Resource {
	var r Resource
	for name, q := range list {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU = q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory = q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage = q.Value()
		default:
			if IsScalarResourceName(name) {
				if r.Scalar == nil {
					r.Scalar = map[corev1.ResourceName]int64{}
				}
				r.Scalar[name] = q.Value()
			}
		}
	}
	return r
}

// Add adds o to r.
func (r *Resource) Add(o *Resource) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	for name, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[name] += v
	}
}

// Sub subtracts o from r.
func (r *Resource) Sub(o *Resource) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	for name, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[name] -= v
	}
}

// IsScalarResourceName reports whether the scheduler accounts for name as a
// plain counter: extended resources (a domain-qualified name outside
// kubernetes.io, e.g. nvidia.com/gpu), hugepages and attachable volumes.
func IsScalarResourceName(name corev1.ResourceName) bool {
	s := string(name)
	switch {
	case strings.HasPrefix(s, corev1.ResourceHugePagesPrefix):
		return true
	case strings.HasPrefix(s, corev1.ResourceAttachableVolumesPrefix):
		return true
	case strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix):
		return false
	case strings.Contains(s, "/") && !strings.Contains(s, corev1.ResourceDefaultNamespacePrefix):
		return true
	}
	return false
}

// HostPort is one host port a pod's container binds.
type HostPort struct {
	Protocol corev1.Protocol
	IP       string
	Port     int32
}

// PodInfo is a pod with what the scheduler needs from it, computed once.
type PodInfo struct {
	Pod *corev1.Pod
	// Requests is the pod's effective request, as the kubelet admits it:
	// the larger of the containers' sum and every init container's, with
	// restartable init containers (sidecars) added, pod-level resources when
	// set, plus the pod's overhead.
	Requests Resource
	// NonZeroMilliCPU and NonZeroMemory are Requests with the scoring
	// defaults in place of missing container requests.
	NonZeroMilliCPU int64
	NonZeroMemory   int64
	HostPorts       []HostPort
	// Owner is the UID of the pod's controller (a ReplicaSet, a Job...), or
	// empty; the spreading score counts pods of the same owner.
	Owner types.UID
}

// NewPodInfo computes the PodInfo of pod.
func NewPodInfo(pod *corev1.Pod) *PodInfo {
	pi := &PodInfo{Pod: pod}
	pi.Requests = NewResource(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}))
	nz := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{NonMissingContainerRequests: nonZeroDefaults})
	pi.NonZeroMilliCPU = nz.Cpu().MilliValue()
	pi.NonZeroMemory = nz.Memory().Value()
	addPorts := func(c *corev1.Container) {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			hp := HostPort{Protocol: p.Protocol, IP: p.HostIP, Port: p.HostPort}
			if hp.Protocol == "" {
				hp.Protocol = corev1.ProtocolTCP
			}
			if hp.IP == "" {
				hp.IP = "0.0.0.0"
			}
			pi.HostPorts = append(pi.HostPorts, hp)
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addPorts(c)
		}
	}
	for i := range pod.Spec.Containers {
		addPorts(&pod.Spec.Containers[i])
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		pi.Owner = ref.UID
	}
	return pi
}
