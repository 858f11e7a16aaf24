package store

import (
	"context"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Kind describes one served resource: what the generic store needs to know
// beyond the Go type. Only Resource, Kind, New and NewList are required.
type Kind struct {
	// Resource is the group and plural resource name, e.g. apps/deployments.
	Resource schema.GroupResource
	// Kind is the object's kind, e.g. Deployment.
	Kind string
	// Singular is the singular resource name; defaults to the lower-cased kind.
	Singular string
	// Namespaced is true for namespace-scoped kinds.
	Namespaced bool
	// New and NewList return empty objects of the kind and of its list.
	New     func() runtime.Object
	NewList func() runtime.Object

	ShortNames []string
	Categories []string

	// NameValidation checks metadata.name; defaults to a DNS-1123 subdomain.
	NameValidation apivalidation.ValidateNameFunc
	// RequestNameValidation, when set, picks the name check of a create
	// per request, in place of NameValidation: a kind whose objects are
	// also served by another API group may check new names by that group's
	// rules (events created through events.k8s.io need DNS subdomain names,
	// core/v1 ones only path segments). Updates check NameValidation, so an
	// object created through the lenient API can be updated through either.
	RequestNameValidation func(ctx context.Context) apivalidation.ValidateNameFunc
	// Validate checks a new object beyond its metadata.
	Validate func(ctx context.Context, obj runtime.Object) field.ErrorList
	// ValidateUpdate checks an update beyond the metadata; defaults to Validate
	// of the new object.
	ValidateUpdate func(ctx context.Context, obj, old runtime.Object) field.ErrorList
	// ValidateStatusUpdate checks an update through the status subresource.
	ValidateStatusUpdate func(ctx context.Context, obj, old runtime.Object) field.ErrorList
	// PrepareForCreate runs after the generic preparation (status cleared,
	// generation set) of a new object.
	PrepareForCreate func(ctx context.Context, obj runtime.Object)
	// PrepareForUpdate runs after the generic preparation of an update.
	PrepareForUpdate func(ctx context.Context, obj, old runtime.Object)
	// PrepareForStatusUpdate runs after the generic preparation of an
	// update through the status subresource.
	PrepareForStatusUpdate func(ctx context.Context, obj, old runtime.Object)
	// Warnings returns the warnings for a created or updated object.
	Warnings func(ctx context.Context, obj runtime.Object) []string

	// KeepStatusOnCreate keeps a status given on create (nodes, events of
	// kinds without a status subresource).
	KeepStatusOnCreate bool
	// NoStatusSubresource is set for kinds whose status is written with the
	// main resource (Namespace keeps its own finalize flow, Node has status).
	NoStatusSubresource bool
	// AllowCreateOnUpdate lets PUT create the object (Endpoints, Leases...).
	AllowCreateOnUpdate bool

	// Columns and Row make the Table kubectl prints. The Name column is added
	// in front of Columns; Row returns the cells after the name.
	Columns []metav1.TableColumnDefinition
	Row     func(obj runtime.Object) ([]interface{}, error)
	// NameCells, when set, renders the Name cells of the rows of items,
	// a list or (list false) one object: StorageClass marks the effective
	// default class in lists. metadata.name otherwise.
	NameCells func(items []runtime.Object, list bool) []string

	// SelectableFields returns the fields a field selector may use beyond
	// metadata.name and metadata.namespace.
	SelectableFields func(obj runtime.Object) fields.Set

	// Scale, when set, adds the autoscaling/v1 scale subresource.
	Scale *ScaleAccess

	// GracefulDelete, when set, decides whether a delete is graceful and sets
	// the grace period on the options (pods).
	GracefulDelete func(ctx context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool

	// GCPolicy, when set, is what a delete without propagationPolicy does to
	// the object's dependents (OrphanDependents for batch/v1 Jobs, as
	// Kubernetes keeps for compatibility). Unset means DeleteDependents in
	// the background.
	GCPolicy func(ctx context.Context) rest.GarbageCollectionPolicy

	// ShouldDeleteDuringUpdate, when set, must also agree before an update
	// that leaves a deleted object without finalizers removes it
	// (namespaces wait for spec.finalizers too).
	ShouldDeleteDuringUpdate func(ctx context.Context, key string, obj, existing runtime.Object) bool

	// Extend, when set, adjusts the finished storage: a main resource with
	// its own verbs or extra subresources (namespaces' delete and finalize).
	Extend func(s *Storage) error
}

// ScaleAccess reads and writes the replica count of a scalable kind.
type ScaleAccess struct {
	// SpecReplicas returns spec.replicas.
	SpecReplicas func(obj runtime.Object) int32
	// SetSpecReplicas sets spec.replicas.
	SetSpecReplicas func(obj runtime.Object, replicas int32)
	// StatusReplicas returns status.replicas.
	StatusReplicas func(obj runtime.Object) int32
	// Selector returns the label selector, as a string, that finds the pods.
	Selector func(obj runtime.Object) (string, error)
}

func (k *Kind) singular() string {
	if k.Singular != "" {
		return k.Singular
	}
	return lower(k.Kind)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
