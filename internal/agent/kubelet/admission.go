package kubelet

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// rejection is why a pod does not fit the node: the pod's status reason
// ("OutOfcpu") and message.
type rejection struct {
	reason, message string
}

// admit checks that pod fits allocatable beside the admitted pods (their
// requests). Only the resources the pod requests are checked, as the
// kubelet's resource-fit admission does; pods count against "pods".
func admit(pod *corev1.Pod, allocatable corev1.ResourceList, admitted []corev1.ResourceList) *rejection {
	want := podRequests(pod)
	if n, ok := allocatable[corev1.ResourcePods]; ok && int64(len(admitted))+1 > n.Value() {
		return &rejection{
			reason:  "OutOfpods",
			message: fmt.Sprintf("Node didn't have enough resource: pods, requested: 1, used: %d, capacity: %d", len(admitted), n.Value()),
		}
	}
	names := make([]string, 0, len(want))
	for k := range want {
		names = append(names, string(k))
	}
	sort.Slice(names, func(i, j int) bool { return resourceOrder(names[i]) < resourceOrder(names[j]) })
	for _, k := range names {
		name := corev1.ResourceName(k)
		req := want[name]
		if req.IsZero() {
			continue
		}
		capQ, ok := allocatable[name]
		if !ok {
			capQ = resource.Quantity{}
		}
		used := resource.Quantity{}
		for _, r := range admitted {
			if q, ok := r[name]; ok {
				used.Add(q)
			}
		}
		total := used.DeepCopy()
		total.Add(req)
		if total.Cmp(capQ) > 0 {
			return &rejection{
				reason: "OutOf" + k,
				message: fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d",
					k, quantityValue(name, req), quantityValue(name, used), quantityValue(name, capQ)),
			}
		}
	}
	return nil
}

func resourceOrder(name string) string {
	switch corev1.ResourceName(name) {
	case corev1.ResourceCPU:
		return "0"
	case corev1.ResourceMemory:
		return "1"
	}
	return "2" + name
}
