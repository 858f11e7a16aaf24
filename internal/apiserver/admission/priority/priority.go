// Package priority builds kube-apiserver's Priority admission plugin
// (k8s.io/kubernetes): a pod's priorityClassName, or the globalDefault
// class, resolves to spec.priority and spec.preemptionPolicy; a second
// globalDefault PriorityClass is refused.
package priority

import (
	"fmt"

	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	upstreampriority "k8s.io/kubernetes/plugin/pkg/admission/priority"

	"skiff.dev/skiff/internal/apiserver/admission/upstream"
)

// New returns the Priority admission plugin reading the PriorityClasses of
// factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) (admission.Interface, error) {
	p := upstreampriority.NewPlugin()
	p.SetExternalKubeClientSet(client)
	p.SetExternalKubeInformerFactory(factory)
	if err := p.ValidateInitialization(); err != nil {
		return nil, fmt.Errorf("%s admission: %w", upstreampriority.PluginName, err)
	}
	return upstream.Plugin{Upstream: p}, nil
}
