package store

import (
	"context"
	"reflect"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// strategy implements the create, update and delete strategies of the
// generic registry for one Kind. The same value serves the main resource;
// statusStrategy wraps it for the status subresource.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	kind     *Kind
	versions []string // group/version strings the kind is served at
}

func newStrategy(typer runtime.ObjectTyper, k *Kind, versions []string) *strategy {
	return &strategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, kind: k, versions: versions}
}

func (s *strategy) NamespaceScoped() bool { return s.kind.Namespaced }

func (s *strategy) hasStatusSubresource() bool {
	return !s.kind.NoStatusSubresource && hasField(s.kind.New(), "Status")
}

// PrepareForCreate clears the status (a client may not set it on create when a
// status subresource exists) and starts the generation at 1.
func (s *strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	if s.hasStatusSubresource() && !s.kind.KeepStatusOnCreate {
		zeroField(obj, "Status")
	}
	if hasField(obj, "Spec") {
		if m, err := meta.Accessor(obj); err == nil {
			m.SetGeneration(1)
		}
	}
	if s.kind.PrepareForCreate != nil {
		s.kind.PrepareForCreate(ctx, obj)
	}
}

// PrepareForUpdate keeps the stored status (it changes through the status
// subresource only) and bumps the generation when the spec changed.
func (s *strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	if s.hasStatusSubresource() {
		copyField(obj, old, "Status")
	}
	bumpGeneration(obj, old)
	if s.kind.PrepareForUpdate != nil {
		s.kind.PrepareForUpdate(ctx, obj, old)
	}
}

// bumpGeneration increments metadata.generation when anything but metadata and
// status changed, as Kubernetes does for kinds with a spec.
func bumpGeneration(obj, old runtime.Object) {
	if !hasField(obj, "Spec") {
		return
	}
	newMeta, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return
	}
	gen := oldMeta.GetGeneration()
	if !apiequality.Semantic.DeepEqual(fieldValue(obj, "Spec"), fieldValue(old, "Spec")) {
		gen++
	}
	newMeta.SetGeneration(gen)
}

func (s *strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	errs := s.validateMeta(ctx, obj, true)
	if s.kind.Validate != nil {
		errs = append(errs, s.kind.Validate(ctx, obj)...)
	}
	return errs
}

// validateMeta checks obj's metadata; the name by the kind's rule, which
// on create may be the rule of the API the request came through.
func (s *strategy) validateMeta(ctx context.Context, obj runtime.Object, create bool) field.ErrorList {
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	nameFn := s.kind.NameValidation
	if create && s.kind.RequestNameValidation != nil {
		nameFn = s.kind.RequestNameValidation(ctx)
	}
	if nameFn == nil {
		nameFn = apivalidation.NameIsDNSSubdomain
	}
	return apivalidation.ValidateObjectMetaAccessor(m, s.kind.Namespaced, nameFn, field.NewPath("metadata"))
}

func (s *strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	newMeta, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), errorOf(err1, err2))}
	}
	errs := apivalidation.ValidateObjectMetaAccessorUpdate(newMeta, oldMeta, field.NewPath("metadata"))
	errs = append(errs, s.validateMeta(ctx, obj, false)...)
	switch {
	case s.kind.ValidateUpdate != nil:
		errs = append(errs, s.kind.ValidateUpdate(ctx, obj, old)...)
	case s.kind.Validate != nil:
		errs = append(errs, s.kind.Validate(ctx, obj)...)
	}
	return errs
}

func errorOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *strategy) WarningsOnCreate(ctx context.Context, obj runtime.Object) []string {
	if s.kind.Warnings != nil {
		return s.kind.Warnings(ctx, obj)
	}
	return nil
}

func (s *strategy) WarningsOnUpdate(ctx context.Context, obj, _ runtime.Object) []string {
	return s.WarningsOnCreate(ctx, obj)
}

func (s *strategy) Canonicalize(runtime.Object) {}

func (s *strategy) AllowCreateOnUpdate(context.Context) bool { return s.kind.AllowCreateOnUpdate }

func (s *strategy) AllowUnconditionalUpdate(context.Context) bool { return true }

// CheckGracefulDelete lets kinds such as Pod keep the object until the node
// agent confirms termination.
func (s *strategy) CheckGracefulDelete(ctx context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool {
	if s.kind.GracefulDelete == nil {
		return false
	}
	return s.kind.GracefulDelete(ctx, obj, options)
}

// DefaultGarbageCollectionPolicy implements
// rest.GarbageCollectionDeleteStrategy: the generic store adds the "orphan"
// finalizer on a delete without propagationPolicy when it returns
// OrphanDependents.
func (s *strategy) DefaultGarbageCollectionPolicy(ctx context.Context) rest.GarbageCollectionPolicy {
	if s.kind.GCPolicy != nil {
		return s.kind.GCPolicy(ctx)
	}
	return rest.DeleteDependents
}

// GetResetFields tells server-side apply that the main resource never owns
// status.
func (s *strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	if !s.hasStatusSubresource() {
		return nil
	}
	return s.resetFields("status")
}

func (s *strategy) resetFields(path string) map[fieldpath.APIVersion]*fieldpath.Set {
	out := make(map[fieldpath.APIVersion]*fieldpath.Set, len(s.versions))
	for _, v := range s.versions {
		out[fieldpath.APIVersion(v)] = fieldpath.NewSet(fieldpath.MakePathOrDie(path))
	}
	return out
}

// statusStrategy serves the status subresource: the spec and metadata other
// than the status-related bits keep their stored values.
type statusStrategy struct {
	*strategy
}

func (s statusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	copyField(obj, old, "Spec")
	newMeta, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 == nil && err2 == nil {
		newMeta.SetGeneration(oldMeta.GetGeneration())
	}
	if s.kind.PrepareForStatusUpdate != nil {
		s.kind.PrepareForStatusUpdate(ctx, obj, old)
	}
}

func (s statusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	newMeta, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), errorOf(err1, err2))}
	}
	errs := apivalidation.ValidateObjectMetaAccessorUpdate(newMeta, oldMeta, field.NewPath("metadata"))
	if s.kind.ValidateStatusUpdate != nil {
		errs = append(errs, s.kind.ValidateStatusUpdate(ctx, obj, old)...)
	}
	return errs
}

func (s statusStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

func (s statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return s.resetFields("spec")
}

// hasField reports whether obj is a pointer to a struct with the named field.
func hasField(obj runtime.Object, name string) bool {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return false
	}
	return v.Elem().FieldByName(name).IsValid()
}

func fieldValue(obj runtime.Object, name string) interface{} {
	f := reflect.ValueOf(obj).Elem().FieldByName(name)
	if !f.IsValid() {
		return nil
	}
	return f.Interface()
}

func zeroField(obj runtime.Object, name string) {
	f := reflect.ValueOf(obj).Elem().FieldByName(name)
	if f.IsValid() && f.CanSet() {
		f.Set(reflect.Zero(f.Type()))
	}
}

func copyField(dst, src runtime.Object, name string) {
	d := reflect.ValueOf(dst).Elem().FieldByName(name)
	s := reflect.ValueOf(src).Elem().FieldByName(name)
	if d.IsValid() && s.IsValid() && d.CanSet() {
		d.Set(s)
	}
}
