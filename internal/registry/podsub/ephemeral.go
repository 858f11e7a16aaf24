package podsub

import (
	"context"
	"fmt"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"skiff.dev/skiff/internal/registry/podspec"
	"skiff.dev/skiff/internal/registry/store"
)

// ephemeralContainersREST serves pods/ephemeralcontainers (what kubectl
// debug patches): a write through it changes only the pod's
// spec.ephemeralContainers, and only by adding containers.
func ephemeralContainersREST(pods *genericregistry.Store) *store.StatusREST {
	s := *pods
	st := ephemeralStrategy{RESTUpdateStrategy: pods.UpdateStrategy}
	s.UpdateStrategy = st
	return store.NewSubresourceREST(&s)
}

// ephemeralStrategy is the pods' update strategy with its preparation and
// validation replaced by those of the ephemeralcontainers subresource.
type ephemeralStrategy struct {
	rest.RESTUpdateStrategy
}

// PrepareForUpdate keeps everything of the stored pod but its ephemeral
// containers.
func (ephemeralStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	pod, oldPod := obj.(*corev1.Pod), old.(*corev1.Pod)
	*pod = *withEphemeralContainers(pod, oldPod)
}

// withEphemeralContainers is old with the ephemeral containers of pod (and
// its resourceVersion, for the optimistic concurrency check).
func withEphemeralContainers(pod, old *corev1.Pod) *corev1.Pod {
	out := old.DeepCopy()
	out.ResourceVersion = pod.ResourceVersion
	out.Spec.EphemeralContainers = pod.Spec.EphemeralContainers
	return out
}

// ValidateUpdate checks the new ephemeral containers as Kubernetes does,
// and that no existing one was removed or changed.
func (ephemeralStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	pod, oldPod := obj.(*corev1.Pod), old.(*corev1.Pod)
	newMeta, err1 := meta.Accessor(pod)
	oldMeta, err2 := meta.Accessor(oldPod)
	if err1 != nil || err2 != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), fmt.Errorf("%v %v", err1, err2))}
	}
	errs := apivalidation.ValidateObjectMetaAccessorUpdate(newMeta, oldMeta, field.NewPath("metadata"))
	errs = append(errs, podspec.ValidatePodSpecWithOptions(&pod.Spec, field.NewPath("spec"),
		podspec.Options{ResourceIsPod: true, PodMeta: &pod.ObjectMeta})...)
	return append(errs, validateEphemeralContainersKept(pod.Spec.EphemeralContainers, oldPod.Spec.EphemeralContainers)...)
}

// validateEphemeralContainersKept refuses the removal or change of an
// ephemeral container already in the pod, with Kubernetes' messages.
func validateEphemeralContainersKept(containers, old []corev1.EphemeralContainer) field.ErrorList {
	specPath := field.NewPath("spec", "ephemeralContainers")
	byName := map[string]*corev1.EphemeralContainer{}
	for i := range containers {
		byName[containers[i].Name] = &containers[i]
	}
	var errs field.ErrorList
	for _, o := range old {
		c, ok := byName[o.Name]
		switch {
		case !ok:
			errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("existing ephemeral containers %q may not be removed\n", o.Name)))
		case !apiequality.Semantic.DeepEqual(o, *c):
			errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("existing ephemeral containers %q may not be changed\n%v", o.Name, cmp.Diff(o, *c))))
		}
	}
	return errs
}

// WarningsOnUpdate implements rest.RESTUpdateStrategy.
func (ephemeralStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}
