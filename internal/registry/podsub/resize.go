package podsub

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	api "k8s.io/kubernetes/pkg/apis/core"
	podregistry "k8s.io/kubernetes/pkg/registry/core/pod"

	"skiff.dev/skiff/internal/registry/store"
	"skiff.dev/skiff/internal/registry/upstream"
)

// resizeREST serves pods/resize (in-place vertical scaling, what
// `kubectl patch --subresource resize` writes): a write through it changes
// only the containers' resources and resize policies, checked by
// Kubernetes' own resize strategy (k8s.io/kubernetes/pkg/registry/core/pod
// ResizeStrategy) on the internal forms of the pod.
func resizeREST(pods *genericregistry.Store) *store.StatusREST {
	s := *pods
	s.UpdateStrategy = resizeStrategy{RESTUpdateStrategy: pods.UpdateStrategy}
	return store.NewSubresourceREST(&s)
}

// resizeStrategy is the pods' update strategy with its preparation and
// validation replaced by those of Kubernetes' resize subresource.
type resizeStrategy struct {
	rest.RESTUpdateStrategy
}

// PrepareForUpdate keeps everything of the stored pod but its containers'
// resources and resize policies, and bumps the generation when they
// changed (Kubernetes' dropNonResizeUpdates and updatePodGeneration).
func (resizeStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	pod, oldPod := obj.(*corev1.Pod), old.(*corev1.Pod)
	in, err := upstream.Internal(pod, &api.Pod{})
	if err != nil {
		return
	}
	oldIn, err := upstream.Internal(oldPod, &api.Pod{})
	if err != nil {
		return
	}
	podregistry.ResizeStrategy.PrepareForUpdate(ctx, in, oldIn)
	out := &corev1.Pod{}
	if _, err := upstream.Internal(in, out); err != nil {
		return
	}
	*pod = *out
}

// ValidateUpdate is Kubernetes' ValidatePodResize.
func (resizeStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	newMeta, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), errorOf(err1, err2))}
	}
	errs := apivalidation.ValidateObjectMetaAccessorUpdate(newMeta, oldMeta, field.NewPath("metadata"))
	return append(errs, upstream.ValidateUpdate(obj, old, func() *api.Pod { return &api.Pod{} }, func(pod, oldPod *api.Pod) field.ErrorList {
		return podregistry.ResizeStrategy.ValidateUpdate(ctx, pod, oldPod)
	})...)
}

// WarningsOnUpdate implements rest.RESTUpdateStrategy.
func (resizeStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

func errorOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
