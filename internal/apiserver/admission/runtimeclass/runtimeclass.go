// Package runtimeclass builds kube-apiserver's RuntimeClass admission plugin
// (k8s.io/kubernetes): a pod naming a RuntimeClass gets the class's
// overhead (spec.overhead) and scheduling (node selector and tolerations);
// a pod naming a class that does not exist is refused, and so is one whose
// overhead differs from its class's.
package runtimeclass

import (
	"fmt"

	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	upstreamruntimeclass "k8s.io/kubernetes/plugin/pkg/admission/runtimeclass"

	"skiff.dev/skiff/internal/apiserver/admission/upstream"
)

// New returns the RuntimeClass admission plugin reading the RuntimeClasses
// of factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) (admission.Interface, error) {
	p := upstreamruntimeclass.NewRuntimeClass()
	p.SetExternalKubeClientSet(client)
	p.SetExternalKubeInformerFactory(factory)
	if err := p.ValidateInitialization(); err != nil {
		return nil, fmt.Errorf("%s admission: %w", upstreamruntimeclass.PluginName, err)
	}
	return upstream.Plugin{Upstream: p}, nil
}
