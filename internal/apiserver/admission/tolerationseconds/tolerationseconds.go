// Package tolerationseconds is Kubernetes' DefaultTolerationSeconds
// admission: a new pod that does not say how long it tolerates its node
// being not-ready or unreachable gets NoExecute tolerations for both, so the
// node lifecycle controller evicts it only after that many seconds.
package tolerationseconds

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"
)

// DefaultSeconds is Kubernetes' default for both tolerations.
const DefaultSeconds int64 = 300

// Plugin adds the default tolerations on pod creation.
type Plugin struct {
	*admission.Handler
	notReady, unreachable int64
}

var _ admission.MutationInterface = &Plugin{}

// New returns the plugin with the given toleration seconds.
func New(notReadySeconds, unreachableSeconds int64) *Plugin {
	return &Plugin{Handler: admission.NewHandler(admission.Create), notReady: notReadySeconds, unreachable: unreachableSeconds}
}

// Admit adds the missing tolerations to a pod being created.
func (p *Plugin) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != corev1.Resource("pods") || a.GetSubresource() != "" {
		return nil
	}
	pod, ok := a.GetObject().(*corev1.Pod)
	if !ok {
		return apierrors.NewBadRequest(fmt.Sprintf("expected a Pod, got %T", a.GetObject()))
	}
	add(pod, corev1.TaintNodeNotReady, p.notReady)
	add(pod, corev1.TaintNodeUnreachable, p.unreachable)
	return nil
}

// add appends a NoExecute toleration of key for seconds unless the pod
// already tolerates that key's NoExecute taint in some way.
func add(pod *corev1.Pod, key string, seconds int64) {
	for _, t := range pod.Spec.Tolerations {
		if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
			return
		}
	}
	s := seconds
	pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
		Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &s,
	})
}
