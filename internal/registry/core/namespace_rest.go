package core

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"
	"k8s.io/apiserver/pkg/util/dryrun"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"skiff.dev/skiff/internal/registry/store"
)

// Namespaces are deleted in two steps, as in Kubernetes. The first DELETE
// only marks the namespace: deletionTimestamp is set and status.phase
// becomes Terminating. The namespace controller then removes the content
// and takes its "kubernetes" entry out of spec.finalizers through the
// finalize subresource; the update that leaves both spec.finalizers and
// metadata.finalizers empty removes the namespace. A DELETE of a
// terminating namespace whose spec.finalizers is already empty removes it
// too.

// extendNamespaceStorage replaces the main resource with namespaceREST and
// adds namespaces/finalize.
func extendNamespaceStorage(s *store.Storage) error {
	main, ok := s.Main.(*store.REST)
	if !ok {
		return fmt.Errorf("namespaces: unexpected main storage %T", s.Main)
	}
	s.Store.ReturnDeletedObject = true
	s.Main = &namespaceREST{main: main, store: s.Store}

	finalizeStore := *s.Store
	fs := namespaceFinalizeStrategy{RESTUpdateStrategy: s.Store.UpdateStrategy}
	finalizeStore.UpdateStrategy = fs
	finalizeStore.ResetFieldsStrategy = fs
	if s.Subresources == nil {
		s.Subresources = map[string]rest.Storage{}
	}
	s.Subresources["finalize"] = &namespaceFinalizeREST{store: &finalizeStore}
	return nil
}

// shouldDeleteNamespaceDuringUpdate keeps a terminating namespace until
// spec.finalizers is empty as well as metadata.finalizers.
func shouldDeleteNamespaceDuringUpdate(_ context.Context, _ string, obj, _ runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) == 0
}

// namespaceREST is the namespaces resource: the generic store's verbs but
// its own Delete, and no deletecollection (Kubernetes serves none for
// namespaces).
type namespaceREST struct {
	main  *store.REST
	store *genericregistry.Store
}

var (
	_ rest.Lister                     = (*namespaceREST)(nil)
	_ rest.Watcher                    = (*namespaceREST)(nil)
	_ rest.Creater                    = (*namespaceREST)(nil)
	_ rest.Patcher                    = (*namespaceREST)(nil)
	_ rest.GracefulDeleter            = (*namespaceREST)(nil)
	_ rest.Scoper                     = (*namespaceREST)(nil)
	_ rest.ShortNamesProvider         = (*namespaceREST)(nil)
	_ rest.SingularNameProvider       = (*namespaceREST)(nil)
	_ rest.ResetFieldsStrategy        = (*namespaceREST)(nil)
	_ rest.MayReturnFullObjectDeleter = (*namespaceREST)(nil)
	_ rest.StorageVersionProvider     = (*namespaceREST)(nil)
)

func (r *namespaceREST) New() runtime.Object     { return r.store.New() }
func (r *namespaceREST) NewList() runtime.Object { return r.store.NewList() }
func (r *namespaceREST) Destroy()                { r.store.Destroy() }
func (r *namespaceREST) NamespaceScoped() bool   { return false }
func (r *namespaceREST) ShortNames() []string    { return r.main.ShortNames() }
func (r *namespaceREST) GetSingularName() string { return r.store.GetSingularName() }

// StorageVersion implements rest.StorageVersionProvider.
func (r *namespaceREST) StorageVersion() runtime.GroupVersioner { return r.store.StorageVersion() }

// GetResetFields implements rest.ResetFieldsStrategy.
func (r *namespaceREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// DeleteReturnsDeletedObject implements rest.MayReturnFullObjectDeleter.
func (r *namespaceREST) DeleteReturnsDeletedObject() bool {
	return r.store.DeleteReturnsDeletedObject()
}

func (r *namespaceREST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	return r.store.List(ctx, options)
}

func (r *namespaceREST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	return r.store.Watch(ctx, options)
}

func (r *namespaceREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

func (r *namespaceREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	return r.store.Create(ctx, obj, createValidation, options)
}

func (r *namespaceREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
}

func (r *namespaceREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}

// Delete marks an active namespace Terminating; a terminating namespace
// is removed only once its spec.finalizers is empty.
func (r *namespaceREST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	obj, err := r.store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	ns := obj.(*corev1.Namespace)

	if options == nil {
		options = metav1.NewDeleteOptions(0)
	}
	if options.Preconditions == nil {
		options.Preconditions = &metav1.Preconditions{}
	}
	if options.Preconditions.UID == nil {
		options.Preconditions.UID = &ns.UID
	} else if *options.Preconditions.UID != ns.UID {
		return nil, false, apierrors.NewConflict(groupResource("namespaces"), name,
			//lint:ignore ST1005 Kubernetes' own message
			fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *options.Preconditions.UID, ns.UID))
	}
	if rv := options.Preconditions.ResourceVersion; rv != nil && *rv != ns.ResourceVersion {
		return nil, false, apierrors.NewConflict(groupResource("namespaces"), name,
			//lint:ignore ST1005 Kubernetes' own message
			fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *rv, ns.ResourceVersion))
	}

	if ns.DeletionTimestamp.IsZero() {
		return r.markTerminating(ctx, name, deleteValidation, options)
	}
	// A terminating namespace goes only once everything finalized it.
	if len(ns.Spec.Finalizers) != 0 {
		return ns, false, nil
	}
	return r.store.Delete(ctx, name, deleteValidation, options)
}

// markTerminating is the first delete of a namespace: deletionTimestamp,
// phase Terminating, and the garbage collector's finalizers the options ask
// for.
func (r *namespaceREST) markTerminating(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	key, err := r.store.KeyFunc(ctx, name)
	if err != nil {
		return nil, false, err
	}
	preconditions := storage.Preconditions{UID: options.Preconditions.UID, ResourceVersion: options.Preconditions.ResourceVersion}
	out := r.store.NewFunc()
	err = r.store.Storage.GuaranteedUpdate(ctx, key, out, false, &preconditions,
		storage.SimpleUpdate(func(existing runtime.Object) (runtime.Object, error) {
			ns, ok := existing.(*corev1.Namespace)
			if !ok {
				return nil, fmt.Errorf("expected *corev1.Namespace, got %T", existing)
			}
			if deleteValidation != nil {
				if err := deleteValidation(ctx, ns); err != nil {
					return nil, err
				}
			}
			if ns.DeletionTimestamp.IsZero() {
				now := metav1.Now()
				ns.DeletionTimestamp = &now
			}
			ns.Status.Phase = corev1.NamespaceTerminating
			ns.Finalizers = gcFinalizers(ns.Finalizers, options)
			return ns, nil
		}),
		dryrun.IsDryRun(options.DryRun), nil)
	if err != nil {
		err = storeerr.InterpretGetError(err, groupResource("namespaces"), name)
		err = storeerr.InterpretUpdateError(err, groupResource("namespaces"), name)
		if _, ok := err.(apierrors.APIStatus); !ok {
			err = apierrors.NewInternalError(err)
		}
		return nil, false, err
	}
	return out, false, nil
}

// gcFinalizers adds or removes the "orphan" and "foregroundDeletion"
// finalizers as the delete options ask; without a policy in the options
// the existing ones stay.
func gcFinalizers(finalizers []string, options *metav1.DeleteOptions) []string {
	has := func(f string) bool {
		for _, x := range finalizers {
			if x == f {
				return true
			}
		}
		return false
	}
	orphan, foreground := has(metav1.FinalizerOrphanDependents), has(metav1.FinalizerDeleteDependents)
	//nolint:staticcheck // OrphanDependents is deprecated but still honoured.
	if o := options.OrphanDependents; o != nil {
		orphan, foreground = *o, !*o
	} else if p := options.PropagationPolicy; p != nil {
		orphan = *p == metav1.DeletePropagationOrphan
		foreground = *p == metav1.DeletePropagationForeground
	}
	out := make([]string, 0, len(finalizers)+1)
	for _, f := range finalizers {
		if f != metav1.FinalizerOrphanDependents && f != metav1.FinalizerDeleteDependents {
			out = append(out, f)
		}
	}
	if orphan {
		out = append(out, metav1.FinalizerOrphanDependents)
	}
	if foreground {
		out = append(out, metav1.FinalizerDeleteDependents)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// namespaceFinalizeREST serves namespaces/finalize: an update that changes
// spec.finalizers (and metadata) but never the status.
type namespaceFinalizeREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Updater             = (*namespaceFinalizeREST)(nil)
	_ rest.ResetFieldsStrategy = (*namespaceFinalizeREST)(nil)
)

func (r *namespaceFinalizeREST) New() runtime.Object { return r.store.New() }
func (r *namespaceFinalizeREST) Destroy()            {}

// Get implements rest.Getter, so that the subresource can be patched.
func (r *namespaceFinalizeREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update implements rest.Updater; a subresource never creates the object.
func (r *namespaceFinalizeREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields implements rest.ResetFieldsStrategy.
func (r *namespaceFinalizeREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// namespaceFinalizeStrategy is the main update strategy except that
// spec.finalizers is taken from the request and the status is kept.
type namespaceFinalizeStrategy struct {
	rest.RESTUpdateStrategy
}

func (s namespaceFinalizeStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	ns, oldNs := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	ns.Status = oldNs.Status
	ns.Generation = oldNs.Generation
	setNamespaceNameLabel(ns)
}

func (s namespaceFinalizeStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	ns, oldNs := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	errs := apivalidation.ValidateObjectMetaUpdate(&ns.ObjectMeta, &oldNs.ObjectMeta, field.NewPath("metadata"))
	fldPath := field.NewPath("spec", "finalizers")
	for i, f := range ns.Spec.Finalizers {
		errs = append(errs, ValidateFinalizerName(string(f), fldPath.Index(i))...)
	}
	return errs
}

func (s namespaceFinalizeStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// GetResetFields: the finalize subresource never owns the status.
func (s namespaceFinalizeStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"v1": fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}
