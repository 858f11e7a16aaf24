package kubelet

import (
	"context"
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"
	kubeletevents "k8s.io/kubernetes/pkg/kubelet/events"
)

// In-place pod resize (pods/resize), as the kubelet does it: the resources
// of a pod's containers in its spec are what is asked; the kubelet
// allocates them when they fit the node beside the other pods (else the
// resize is pending, Deferred), then actuates the allocation: a running
// container whose resources differ gets them in place
// (UpdateContainerResources), or is restarted where its resizePolicy says
// RestartContainer. The pod's status reports the allocation
// (allocatedResources), what the runtime applied (resources), and the
// PodResizePending and PodResizeInProgress conditions.

// Reasons of the resize conditions, as the kubelet gives them.
const (
	reasonResizeDeferred = corev1.PodReasonDeferred
	reasonResizeError    = corev1.PodReasonError
)

// allocation is what the kubelet allocated to a pod's containers and init
// containers, by name.
type allocation map[string]corev1.ResourceRequirements

// allocationOf is the resources a pod's spec asks for its containers.
func allocationOf(pod *corev1.Pod) allocation {
	a := allocation{}
	for i := range pod.Spec.InitContainers {
		a[pod.Spec.InitContainers[i].Name] = *pod.Spec.InitContainers[i].Resources.DeepCopy()
	}
	for i := range pod.Spec.Containers {
		a[pod.Spec.Containers[i].Name] = *pod.Spec.Containers[i].Resources.DeepCopy()
	}
	return a
}

// allocatedPod is pod with its containers' resources those of a: the pod
// as the kubelet runs it. pod itself is returned when they are the same.
func allocatedPod(pod *corev1.Pod, a allocation) *corev1.Pod {
	if a == nil || apiequality.Semantic.DeepEqual(allocationOf(pod), a) {
		return pod
	}
	out := pod.DeepCopy()
	for _, l := range [][]corev1.Container{out.Spec.InitContainers, out.Spec.Containers} {
		for i := range l {
			if r, ok := a[l[i].Name]; ok {
				l[i].Resources = *r.DeepCopy()
			}
		}
	}
	return out
}

// resizeDecision is what the kubelet does with the resources a pod's spec
// asks.
type resizeDecision struct {
	// alloc is the pod's allocation after the decision.
	alloc allocation
	// accepted: the spec asked for other resources, and they are allocated
	// now.
	accepted bool
	// pending is why the resources the spec asks are not allocated (they
	// do not fit the node now); nil when they are. newlyPending: it was
	// not pending for this generation before.
	pending      *rejection
	newlyPending bool
}

// decideResize allocates the resources pod's spec asks when they differ
// from current and fit returns no rejection for the pod with them.
func decideResize(pod *corev1.Pod, current allocation, fit func(*corev1.Pod) *rejection) resizeDecision {
	want := allocationOf(pod)
	if apiequality.Semantic.DeepEqual(want, current) {
		return resizeDecision{alloc: current}
	}
	if r := fit(pod); r != nil {
		return resizeDecision{alloc: current, pending: r}
	}
	return resizeDecision{alloc: want, accepted: true}
}

// containerUpdate is a running instance whose resources are changed in
// place.
type containerUpdate struct {
	spec      *corev1.Container
	instance  *containerInfo
	resources *runtimeapi.LinuxContainerResources
}

// resizeFor is what a running instance needs for the resources it runs
// with to be those of c (the allocated ones): nothing, a restart (a
// changed resource whose resizePolicy is RestartContainer), or an update
// in place. An instance whose runtime does not report its resources is
// left as it is.
func resizeFor(c *corev1.Container, ci *containerInfo) (restart bool, update *runtimeapi.LinuxContainerResources) {
	cur := ci.resources
	if cur == nil {
		return false, nil
	}
	want := containerResources(c)
	changed := map[corev1.ResourceName]bool{
		corev1.ResourceCPU:    want.CpuShares != cur.CpuShares || want.CpuQuota != cur.CpuQuota,
		corev1.ResourceMemory: want.MemoryLimitInBytes != cur.MemoryLimitInBytes,
	}
	if !changed[corev1.ResourceCPU] && !changed[corev1.ResourceMemory] {
		return false, nil
	}
	for _, p := range c.ResizePolicy {
		if changed[p.ResourceName] && p.RestartPolicy == corev1.RestartContainer {
			return true, nil
		}
	}
	return false, want
}

// resizeInProgress reports whether a running container of the (allocated)
// pod does not run with its allocated resources yet.
func resizeInProgress(pod *corev1.Pod, state *podState) bool {
	for _, c := range allContainers(pod) {
		ci := state.latest(c.Name)
		if ci == nil || !ci.running() {
			continue
		}
		if restart, update := resizeFor(c, ci); restart || update != nil {
			return true
		}
	}
	return false
}

// resizeStatus is what the pod's resize conditions are computed from.
type resizeStatus struct {
	// pending is why the asked resources are not allocated, with the
	// pod's generation then.
	pending    *rejection
	pendingGen int64
	// inProgressGen is the generation whose resize was allocated last (0:
	// the pod's).
	inProgressGen int64
	// err is the last failure to apply the allocation.
	err string
}

// resizeConditions are the PodResizePending and PodResizeInProgress
// conditions of a pod of generation gen, without transition times.
func resizeConditions(rs resizeStatus, inProgress bool, gen int64) []corev1.PodCondition {
	var out []corev1.PodCondition
	if rs.pending != nil {
		out = append(out, corev1.PodCondition{
			Type: corev1.PodResizePending, Status: corev1.ConditionTrue, ObservedGeneration: rs.pendingGen,
			Reason: reasonResizeDeferred, Message: rs.pending.message,
		})
	}
	if inProgress || rs.err != "" {
		c := corev1.PodCondition{Type: corev1.PodResizeInProgress, Status: corev1.ConditionTrue, ObservedGeneration: rs.inProgressGen}
		if c.ObservedGeneration == 0 {
			c.ObservedGeneration = gen
		}
		if rs.err != "" {
			c.Reason, c.Message = reasonResizeError, rs.err
		}
		out = append(out, c)
	}
	return out
}

// statusResources is the resources a container runs with, as its status
// reports them: the allocated ones, with the cpu and memory the runtime
// applied to a running instance.
func statusResources(c *corev1.Container, ci *containerInfo) *corev1.ResourceRequirements {
	res := c.Resources.DeepCopy()
	if ci == nil || !ci.running() || ci.resources == nil {
		return res
	}
	r := ci.resources
	if res.Limits != nil {
		if _, ok := res.Limits[corev1.ResourceCPU]; ok && r.CpuQuota > 0 {
			period := r.CpuPeriod
			if period <= 0 {
				period = cpuPeriod
			}
			res.Limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(r.CpuQuota*1000/period, resource.DecimalSI)
		}
		if _, ok := res.Limits[corev1.ResourceMemory]; ok && r.MemoryLimitInBytes > 0 {
			res.Limits[corev1.ResourceMemory] = *resource.NewQuantity(r.MemoryLimitInBytes, resource.BinarySI)
		}
	}
	if res.Requests != nil {
		if q, ok := res.Requests[corev1.ResourceCPU]; ok && r.CpuShares > 0 {
			milli := int64(math.Ceil(float64(r.CpuShares*1000) / 1024))
			// At or below the minimum shares the request is kept as asked.
			if milli > minCPUShares || q.MilliValue() > minCPUShares {
				res.Requests[corev1.ResourceCPU] = *resource.NewMilliQuantity(milli, resource.DecimalSI)
			}
		}
	}
	return res
}

// allocate decides on the resources the pod's spec asks (see
// decideResize) and returns the pod as the kubelet runs it: with the
// allocated resources.
func (m *podManager) allocate(pod *corev1.Pod) *corev1.Pod {
	d, ok := m.admissions.resize(pod, func(current allocation, others []corev1.ResourceList) resizeDecision {
		return decideResize(pod, current, func(p *corev1.Pod) *rejection {
			return admit(p, m.node.allocatable(), others)
		})
	})
	if !ok {
		return pod
	}
	key := pod.Namespace + "/" + pod.Name
	switch {
	case d.accepted:
		m.log.Info("pod resize allocated", "pod", key, "generation", pod.Generation)
		m.event(pod, "", corev1.EventTypeNormal, kubeletevents.ResizeStarted, kubeletevents.PodResizeStartedMsg(klog.Background(), pod, pod.Generation))
	case d.newlyPending:
		m.log.Info("pod resize deferred", "pod", key, "message", d.pending.message)
		m.event(pod, "", corev1.EventTypeWarning, kubeletevents.ResizeDeferred,
			kubeletevents.PodResizePendingMsg(klog.Background(), pod, reasonResizeDeferred, d.pending.message, pod.Generation))
	}
	return allocatedPod(pod, d.alloc)
}

// updateResources applies the allocated resources in place to the
// running instances that need it; a failure shows in the pod's
// PodResizeInProgress condition.
func (m *podManager) updateResources(ctx context.Context, pod *corev1.Pod, updates []containerUpdate) {
	errMsg := ""
	for _, u := range updates {
		err := m.runtimeFor(pod.UID).UpdateContainerResources(ctx, u.instance.id, &runtimeapi.ContainerResources{Linux: u.resources})
		if err != nil {
			m.log.Warn("updating container resources", "pod", pod.Namespace+"/"+pod.Name, "container", u.spec.Name, "err", err)
			errMsg = fmt.Sprintf("failed to update resources of container %s: %v", u.spec.Name, err)
		}
	}
	if len(updates) > 0 {
		m.admissions.setResizeError(pod.UID, errMsg)
	}
}
