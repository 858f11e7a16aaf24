package controllerref

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Getter reads one object by name from the API server. client-go's typed
// clients for a namespace (clientset.AppsV1().Deployments(ns), ...) are
// Getters.
type Getter[T any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
}

// Patcher patches one object by name. client-go's typed clients for a
// namespace are Patchers.
type Patcher[T any] interface {
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
}

// Claimer adopts and releases the objects of one kind (C) for one
// controller (O).
type Claimer[O, C metav1.Object] struct {
	// Owner is the controller, as the cache shows it.
	Owner O
	// Kind is the Owner's group, version and kind, for the ControllerRef
	// that adoption adds.
	Kind schema.GroupVersionKind
	// Selector selects the objects that the Owner should control.
	Selector labels.Selector
	// OwnerClient reads the Owner, in its namespace, from the API server
	// (not the cache) before the first adoption.
	OwnerClient Getter[O]
	// ChildClient patches the owned kind in the Owner's namespace.
	ChildClient Patcher[C]
	// ChildKind names the owned kind in errors ("pod").
	ChildKind string
}

// Claim returns those of objs that the Owner controls once it has adopted
// the orphans that Selector matches and released the objects that it
// controls and Selector no longer matches. It leaves alone the objects
// that another controller controls, those of other namespaces, and the
// orphans being deleted; while the Owner is being deleted it neither adopts
// nor releases. An object that is gone by the time of its patch is left
// out without an error; the other failures are joined in the error,
// and Claim goes on with the other objects.
func (m Claimer[O, C]) Claim(ctx context.Context, objs []C) ([]C, error) {
	owner := m.Owner
	deleting := owner.GetDeletionTimestamp() != nil
	var (
		out      []C
		errs     []error
		checked  bool
		canAdopt error
	)
	// Adoption is checked once against the live object: a cache that lags
	// a deletion or a re-creation under the same name must not adopt.
	adoptable := func() error {
		if checked {
			return canAdopt
		}
		checked = true
		fresh, err := m.OwnerClient.Get(ctx, owner.GetName(), metav1.GetOptions{})
		switch {
		case err != nil:
			canAdopt = m.errorf("checking before adoption: %w", err)
		case fresh.GetUID() != owner.GetUID():
			canAdopt = m.errorf("original %s is gone: got uid %v, wanted %v", m.Kind.Kind, fresh.GetUID(), owner.GetUID())
		case fresh.GetDeletionTimestamp() != nil:
			canAdopt = m.errorf("%s has just been deleted at %v", m.Kind.Kind, fresh.GetDeletionTimestamp())
		}
		return canAdopt
	}
	for _, obj := range objs {
		matches := m.Selector.Matches(labels.Set(obj.GetLabels()))
		ref := metav1.GetControllerOf(obj)
		switch {
		case obj.GetNamespace() != owner.GetNamespace():
			// Owner references do not cross namespaces.
		case ref != nil && ref.UID != owner.GetUID():
			// Someone else's.
		case ref != nil && matches:
			out = append(out, obj)
		case ref != nil:
			if deleting {
				continue
			}
			if err := m.patch(ctx, obj, ReleasePatch(owner.GetUID(), obj.GetUID())); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, m.errorf("releasing %s %s: %w", m.ChildKind, obj.GetName(), err))
			}
		case !matches || deleting || obj.GetDeletionTimestamp() != nil:
			// Not an orphan to adopt.
		default:
			if err := adoptable(); err != nil {
				errs = append(errs, err)
				continue
			}
			err := m.patch(ctx, obj, AdoptPatch(metav1.NewControllerRef(owner, m.Kind), obj.GetUID()))
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				errs = append(errs, m.errorf("adopting %s %s: %w", m.ChildKind, obj.GetName(), err))
			default:
				out = append(out, obj)
			}
		}
	}
	return out, errors.Join(errs...)
}

func (m Claimer[O, C]) patch(ctx context.Context, obj C, patch []byte) error {
	_, err := m.ChildClient.Patch(ctx, obj.GetName(), types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	return err
}

// errorf prefixes an error with the Owner's kind and namespace/name, as the
// controllers' own errors are ("replicaset ns/web: ...").
func (m Claimer[O, C]) errorf(format string, args ...any) error {
	return fmt.Errorf("%s %s/%s: "+format,
		append([]any{strings.ToLower(m.Kind.Kind), m.Owner.GetNamespace(), m.Owner.GetName()}, args...)...)
}
