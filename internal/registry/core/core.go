// Package core describes the core/v1 kinds skiff serves (Namespace, Node,
// Pod, Service, Endpoints, ConfigMap, Secret, ServiceAccount, Event,
// PodTemplate, ReplicationController): their
// defaults, validation, create/update preparation and the tables kubectl
// prints, as Kubernetes' own registry does.
//
// ClusterIP and NodePort allocation is not here: the Service storage is
// wrapped for that by internal/apiserver.
package core

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff.dev/skiff/internal/registry/podspec"
	"skiff.dev/skiff/internal/registry/store"
)

// Kinds returns the kinds this group serves, in the order they should be
// installed.
func Kinds() []*store.Kind {
	return []*store.Kind{
		namespaceKind(),
		nodeKind(),
		podKind(),
		serviceKind(),
		endpointsKind(),
		configMapKind(),
		secretKind(),
		serviceAccountKind(),
		eventKind(),
		persistentVolumeKind(),
		persistentVolumeClaimKind(),
		podTemplateKind(),
		replicationControllerKind(),
		resourceQuotaKind(),
		limitRangeKind(),
	}
}

// RegisterDefaults registers the defaulting functions of the core/v1 types
// with the scheme; decoding a request or a stored object applies them.
func RegisterDefaults(scheme *runtime.Scheme) {
	registerVolumeDefaults(scheme)
	registerQuotaDefaults(scheme)
	scheme.AddTypeDefaultingFunc(&corev1.Pod{}, func(o interface{}) { podspec.SetDefaultsPod(o.(*corev1.Pod)) })
	scheme.AddTypeDefaultingFunc(&corev1.PodList{}, func(o interface{}) {
		l := o.(*corev1.PodList)
		for i := range l.Items {
			podspec.SetDefaultsPod(&l.Items[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&corev1.PodTemplate{}, func(o interface{}) {
		podspec.SetDefaultsPodSpec(&o.(*corev1.PodTemplate).Template.Spec)
	})
	scheme.AddTypeDefaultingFunc(&corev1.PodTemplateList{}, func(o interface{}) {
		l := o.(*corev1.PodTemplateList)
		for i := range l.Items {
			podspec.SetDefaultsPodSpec(&l.Items[i].Template.Spec)
		}
	})
	scheme.AddTypeDefaultingFunc(&corev1.ReplicationController{}, func(o interface{}) {
		setDefaultsReplicationController(o.(*corev1.ReplicationController))
	})
	scheme.AddTypeDefaultingFunc(&corev1.ReplicationControllerList{}, func(o interface{}) {
		l := o.(*corev1.ReplicationControllerList)
		for i := range l.Items {
			setDefaultsReplicationController(&l.Items[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&corev1.Service{}, func(o interface{}) { setDefaultsService(o.(*corev1.Service)) })
	scheme.AddTypeDefaultingFunc(&corev1.ServiceList{}, func(o interface{}) {
		l := o.(*corev1.ServiceList)
		for i := range l.Items {
			setDefaultsService(&l.Items[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&corev1.Namespace{}, func(o interface{}) { setDefaultsNamespace(o.(*corev1.Namespace)) })
	scheme.AddTypeDefaultingFunc(&corev1.NamespaceList{}, func(o interface{}) {
		l := o.(*corev1.NamespaceList)
		for i := range l.Items {
			setDefaultsNamespace(&l.Items[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&corev1.Node{}, func(o interface{}) { setDefaultsNode(o.(*corev1.Node)) })
	scheme.AddTypeDefaultingFunc(&corev1.NodeList{}, func(o interface{}) {
		l := o.(*corev1.NodeList)
		for i := range l.Items {
			setDefaultsNode(&l.Items[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&corev1.Endpoints{}, func(o interface{}) { setDefaultsEndpoints(o.(*corev1.Endpoints)) })
	scheme.AddTypeDefaultingFunc(&corev1.EndpointsList{}, func(o interface{}) {
		l := o.(*corev1.EndpointsList)
		for i := range l.Items {
			setDefaultsEndpoints(&l.Items[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&corev1.Secret{}, func(o interface{}) { setDefaultsSecret(o.(*corev1.Secret)) })
	scheme.AddTypeDefaultingFunc(&corev1.SecretList{}, func(o interface{}) {
		l := o.(*corev1.SecretList)
		for i := range l.Items {
			setDefaultsSecret(&l.Items[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&corev1.ConfigMap{}, func(o interface{}) { setDefaultsConfigMap(o.(*corev1.ConfigMap)) })
	scheme.AddTypeDefaultingFunc(&corev1.ConfigMapList{}, func(o interface{}) {
		l := o.(*corev1.ConfigMapList)
		for i := range l.Items {
			setDefaultsConfigMap(&l.Items[i])
		}
	})
}

func groupResource(plural string) schema.GroupResource {
	return schema.GroupResource{Group: corev1.GroupName, Resource: plural}
}
