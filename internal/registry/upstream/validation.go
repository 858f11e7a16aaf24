package upstream

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	// The internal types whose validation the storage registries reuse.
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	_ "k8s.io/kubernetes/pkg/apis/storage/install"
)

// Internal converts a served (k8s.io/api) object to k8s.io/kubernetes'
// internal type T with the upstream scheme's generated conversions, so that
// Kubernetes' own validation functions can check it.
func Internal[T runtime.Object](ext runtime.Object, into T) (T, error) {
	if err := legacyscheme.Scheme.Convert(ext, into, nil); err != nil {
		return into, fmt.Errorf("convert %T to %T: %w", ext, into, err)
	}
	return into, nil
}

// Validate runs an upstream validation on the internal forms of obj (and
// old, for an update), dropping the metadata errors: skiff's store checks
// the metadata itself, and each error would otherwise show twice. A failed
// conversion is an internal error on the root path.
func Validate[T runtime.Object](obj runtime.Object, newInternal func() T, validate func(obj T) field.ErrorList) field.ErrorList {
	in, err := Internal(obj, newInternal())
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	return withoutMetadata(validate(in))
}

// ValidateUpdate is Validate for an update of old to obj.
func ValidateUpdate[T runtime.Object](obj, old runtime.Object, newInternal func() T, validate func(obj, old T) field.ErrorList) field.ErrorList {
	in, err := Internal(obj, newInternal())
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	oldIn, err := Internal(old, newInternal())
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	return withoutMetadata(validate(in, oldIn))
}

func withoutMetadata(errs field.ErrorList) field.ErrorList {
	out := errs[:0]
	for _, e := range errs {
		if e.Field == "metadata" || strings.HasPrefix(e.Field, "metadata.") {
			continue
		}
		out = append(out, e)
	}
	return out
}
