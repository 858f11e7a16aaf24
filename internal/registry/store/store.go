package store

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Storage is the REST storage of one kind: the main resource and its
// subresources, keyed as the generic API server expects ("", "status",
// "scale").
type Storage struct {
	// Main is a *REST unless the kind's Extend replaced it.
	Main   rest.Storage
	Status *StatusREST
	Scale  *ScaleREST
	// Subresources are further subresources keyed by their name
	// ("finalize"), added by a kind's Extend.
	Subresources map[string]rest.Storage
	// Store is the underlying generic store, for kinds that wrap it.
	Store *genericregistry.Store
}

// Map returns the storage keyed by resource path ("deployments",
// "deployments/status", ...).
func (s *Storage) Map(resource string) map[string]rest.Storage {
	m := map[string]rest.Storage{resource: s.Main}
	if s.Status != nil {
		m[resource+"/status"] = s.Status
	}
	if s.Scale != nil {
		m[resource+"/scale"] = s.Scale
	}
	for sub, st := range s.Subresources {
		m[resource+"/"+sub] = st
	}
	return m
}

// REST is the main resource: the generic store plus the discovery details
// kubectl reads (short names, categories).
type REST struct {
	*genericregistry.Store
	kind *Kind
}

var (
	_ rest.ShortNamesProvider  = &REST{}
	_ rest.CategoriesProvider  = &REST{}
	_ rest.ResetFieldsStrategy = &strategy{}

	_ rest.GarbageCollectionDeleteStrategy = &strategy{}
)

// ShortNames implements rest.ShortNamesProvider.
func (r *REST) ShortNames() []string { return r.kind.ShortNames }

// Categories implements rest.CategoriesProvider.
func (r *REST) Categories() []string { return r.kind.Categories }

// StatusREST serves the status subresource.
type StatusREST struct {
	store *genericregistry.Store
}

// NewSubresourceREST serves a subresource that updates the object through
// s (a copy of the main store with the subresource's update strategy), as
// the status subresource does: get, and update that never creates.
func NewSubresourceREST(s *genericregistry.Store) *StatusREST { return &StatusREST{store: s} }

// New implements rest.Storage.
func (r *StatusREST) New() runtime.Object { return r.store.New() }

// Destroy implements rest.Storage; the main resource owns the store.
func (r *StatusREST) Destroy() {}

// Get implements rest.Getter.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update implements rest.Updater; only the status changes.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Subresources never create the object.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields implements rest.ResetFieldsStrategy.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable implements rest.TableConvertor.
func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}

// Options are what New needs besides the Kind.
type Options struct {
	// Scheme types the objects.
	Scheme *runtime.Scheme
	// RESTOptions gives the etcd storage of each resource.
	RESTOptions generic.RESTOptionsGetter
	// Versions are the group/version strings the kind is served at, for
	// server-side apply's reset fields.
	Versions []string
}

// New builds the storage of one kind.
func New(k *Kind, opts Options) (*Storage, error) {
	st := newStrategy(opts.Scheme, k, opts.Versions)
	s := &genericregistry.Store{
		NewFunc:                   k.New,
		NewListFunc:               k.NewList,
		DefaultQualifiedResource:  k.Resource,
		SingularQualifiedResource: schema.GroupResource{Group: k.Resource.Group, Resource: k.singular()},
		PredicateFunc:             k.predicate,
		CreateStrategy:            st,
		UpdateStrategy:            st,
		DeleteStrategy:            st,
		ResetFieldsStrategy:       st,
		TableConvertor:            &tableConvertor{kind: k},
		ShouldDeleteDuringUpdate:  k.ShouldDeleteDuringUpdate,
	}
	if err := s.CompleteWithOptions(&generic.StoreOptions{RESTOptions: opts.RESTOptions, AttrFunc: k.attrs}); err != nil {
		return nil, fmt.Errorf("complete store for %s: %w", k.Resource, err)
	}
	out := &Storage{Main: &REST{Store: s, kind: k}, Store: s}
	if st.hasStatusSubresource() {
		statusStore := *s
		ss := statusStrategy{st}
		statusStore.UpdateStrategy = ss
		statusStore.ResetFieldsStrategy = ss
		out.Status = &StatusREST{store: &statusStore}
	}
	if k.Scale != nil {
		out.Scale = &ScaleREST{store: s, access: k.Scale, resource: k.Resource}
	}
	if k.Extend != nil {
		if err := k.Extend(out); err != nil {
			return nil, fmt.Errorf("extend storage of %s: %w", k.Resource, err)
		}
	}
	return out, nil
}

func (k *Kind) attrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	m, err := metaOf(obj)
	if err != nil {
		return nil, nil, err
	}
	f := fields.Set{"metadata.name": m.GetName()}
	if k.Namespaced {
		f["metadata.namespace"] = m.GetNamespace()
	}
	if k.SelectableFields != nil {
		for key, v := range k.SelectableFields(obj) {
			f[key] = v
		}
	}
	return labels.Set(m.GetLabels()), f, nil
}

func (k *Kind) predicate(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: k.attrs}
}
