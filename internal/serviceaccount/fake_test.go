package serviceaccount

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// getterFunc is a rest.Getter.
type getterFunc func(ctx context.Context, name string) (runtime.Object, error)

func (f getterFunc) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	return f(ctx, name)
}

// mapGetter finds the objects that match, by namespace (from ctx) and name.
func mapGetter(objs []any, match func(any) (metav1.Object, bool)) rest.Getter {
	return getterFunc(func(ctx context.Context, name string) (runtime.Object, error) {
		ns, _ := genericapirequest.NamespaceFrom(ctx)
		for _, o := range objs {
			if m, ok := match(o); ok && m.GetName() == name && m.GetNamespace() == ns {
				return o.(runtime.Object), nil
			}
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{}, name)
	})
}
