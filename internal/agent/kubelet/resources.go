package kubelet

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	podv1util "k8s.io/kubernetes/pkg/api/v1/pod"
)

const (
	cpuPeriod    = 100000
	minCPUShares = 2
)

// containerResources turns a container's requests and limits into the CRI
// resources the contract defines: CFS quota from the cpu limit, shares from
// the cpu request (the limit when there is no request), the memory limit.
func containerResources(c *corev1.Container) *runtimeapi.LinuxContainerResources {
	r := &runtimeapi.LinuxContainerResources{CpuPeriod: cpuPeriod}
	req, hasReq := c.Resources.Requests[corev1.ResourceCPU]
	lim, hasLim := c.Resources.Limits[corev1.ResourceCPU]
	if !hasReq && hasLim {
		req, hasReq = lim, true
	}
	shares := int64(minCPUShares)
	if hasReq {
		shares = max(req.MilliValue()*1024/1000, minCPUShares)
	}
	r.CpuShares = shares
	if hasLim {
		r.CpuQuota = lim.MilliValue() * cpuPeriod / 1000
	}
	if m, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		r.MemoryLimitInBytes = m.Value()
	}
	return r
}

// podRequests is what a pod asks of the node: the larger of the sum over
// its containers and sidecars and, for each init container, its request
// beside the sidecars started before it.
func podRequests(pod *corev1.Pod) corev1.ResourceList {
	sum := corev1.ResourceList{}
	add := func(l, r corev1.ResourceList) {
		for k, v := range r {
			q := l[k]
			q.Add(v)
			l[k] = q
		}
	}
	maxOf := func(l, r corev1.ResourceList) {
		for k, v := range r {
			if q, ok := l[k]; !ok || v.Cmp(q) > 0 {
				l[k] = v.DeepCopy()
			}
		}
	}
	for i := range pod.Spec.Containers {
		add(sum, requestsOf(&pod.Spec.Containers[i]))
	}
	initMax := corev1.ResourceList{}
	sidecars := corev1.ResourceList{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if podv1util.IsRestartableInitContainer(c) {
			add(sidecars, requestsOf(c))
			add(sum, requestsOf(c))
			maxOf(initMax, sidecars)
			continue
		}
		one := corev1.ResourceList{}
		add(one, sidecars)
		add(one, requestsOf(c))
		maxOf(initMax, one)
	}
	maxOf(sum, initMax)
	if pod.Spec.Overhead != nil {
		add(sum, pod.Spec.Overhead)
	}
	return sum
}

// requestsOf is a container's requests, its limits standing in for
// missing requests (as the API server defaults them).
func requestsOf(c *corev1.Container) corev1.ResourceList {
	r := corev1.ResourceList{}
	for k, v := range c.Resources.Limits {
		r[k] = v
	}
	for k, v := range c.Resources.Requests {
		r[k] = v
	}
	return r
}

// quantityValue is a quantity in the unit the kubelet's admission message
// uses: millicores for cpu, plain numbers otherwise.
func quantityValue(name corev1.ResourceName, q resource.Quantity) int64 {
	if name == corev1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}
