// Package apps serves the apps/v1 workload kinds — Deployment, ReplicaSet,
// StatefulSet and DaemonSet, and the ControllerRevisions of the last two —
// with Kubernetes' defaults, validation (field paths and messages), scale
// subresources and the columns kubectl prints.
//
// Pod templates are defaulted and validated through the podspec package, as
// Kubernetes does; a StatefulSet's template is validated with its claim
// templates counted as volumes (volume mounts may name them).
package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff.dev/skiff/internal/registry/store"
)

// Kinds returns the kinds this group serves, in the order they should be
// installed (Kubernetes' order for the apps group).
func Kinds() []*store.Kind {
	return []*store.Kind{
		deploymentKind(),
		statefulSetKind(),
		daemonSetKind(),
		replicaSetKind(),
		controllerRevisionKind(),
	}
}

// RegisterDefaults registers the defaulting functions of the apps/v1 types
// (and their lists) with the scheme; decoding a request or a stored object
// applies them, as in Kubernetes.
func RegisterDefaults(scheme *runtime.Scheme) {
	scheme.AddTypeDefaultingFunc(&appsv1.Deployment{}, func(o interface{}) { setDefaultsDeployment(o.(*appsv1.Deployment)) })
	scheme.AddTypeDefaultingFunc(&appsv1.DeploymentList{}, func(o interface{}) {
		l := o.(*appsv1.DeploymentList)
		for i := range l.Items {
			setDefaultsDeployment(&l.Items[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&appsv1.ReplicaSet{}, func(o interface{}) { setDefaultsReplicaSet(o.(*appsv1.ReplicaSet)) })
	scheme.AddTypeDefaultingFunc(&appsv1.ReplicaSetList{}, func(o interface{}) {
		l := o.(*appsv1.ReplicaSetList)
		for i := range l.Items {
			setDefaultsReplicaSet(&l.Items[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&appsv1.StatefulSet{}, func(o interface{}) { setDefaultsStatefulSet(o.(*appsv1.StatefulSet)) })
	scheme.AddTypeDefaultingFunc(&appsv1.StatefulSetList{}, func(o interface{}) {
		l := o.(*appsv1.StatefulSetList)
		for i := range l.Items {
			setDefaultsStatefulSet(&l.Items[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&appsv1.DaemonSet{}, func(o interface{}) { setDefaultsDaemonSet(o.(*appsv1.DaemonSet)) })
	scheme.AddTypeDefaultingFunc(&appsv1.DaemonSetList{}, func(o interface{}) {
		l := o.(*appsv1.DaemonSetList)
		for i := range l.Items {
			setDefaultsDaemonSet(&l.Items[i])
		}
	})
}
