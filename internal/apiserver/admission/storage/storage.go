// Package storage runs kube-apiserver's storage admission plugins on
// skiff's requests: DefaultStorageClass (a claim created without
// storageClassName gets the default class) and StorageObjectInUseProtection
// (new claims and volumes get the kubernetes.io/pvc-protection and
// kubernetes.io/pv-protection finalizers, which the protection controllers
// remove once nothing uses them). Both are k8s.io/kubernetes' own plugins;
// they mutate Kubernetes' internal types, so each request's object is
// converted to them and back.
package storage

import (
	"context"
	"fmt"

	"k8s.io/apiserver/pkg/admission"
	genericadmissioninitializer "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/client-go/informers"
	"k8s.io/kubernetes/plugin/pkg/admission/storage/storageclass/setdefault"
	"k8s.io/kubernetes/plugin/pkg/admission/storage/storageobjectinuseprotection"

	"skiff.dev/skiff/internal/apiserver/admission/upstream"
)

// Plugin is one upstream mutating plugin behind the type conversion.
type Plugin struct {
	admission.Interface
	mutate admission.MutationInterface
}

var _ admission.MutationInterface = &Plugin{}

// Admit runs the upstream plugin on the internal form of the request.
func (p *Plugin) Admit(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error {
	return upstream.Mutate(ctx, p.mutate.Admit, a, o)
}

// New returns DefaultStorageClass and StorageObjectInUseProtection, in
// kube-apiserver's order, the first reading StorageClasses from factory.
func New(factory informers.SharedInformerFactory) ([]admission.Interface, error) {
	plugins := admission.NewPlugins()
	setdefault.Register(plugins)
	storageobjectinuseprotection.Register(plugins)
	init := initializer{factory: factory}
	var out []admission.Interface
	for _, name := range []string{setdefault.PluginName, storageobjectinuseprotection.PluginName} {
		p, err := plugins.InitPlugin(name, nil, init)
		if err != nil {
			return nil, fmt.Errorf("%s admission: %w", name, err)
		}
		m, ok := p.(admission.MutationInterface)
		if !ok {
			return nil, fmt.Errorf("%s admission: not a mutating plugin", name)
		}
		out = append(out, &Plugin{Interface: p, mutate: m})
	}
	return out, nil
}

// initializer gives the plugins the API server's shared informers.
type initializer struct {
	factory informers.SharedInformerFactory
}

func (i initializer) Initialize(p admission.Interface) {
	if w, ok := p.(genericadmissioninitializer.WantsExternalKubeInformerFactory); ok {
		w.SetExternalKubeInformerFactory(i.factory)
	}
}
