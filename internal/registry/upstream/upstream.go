// Package upstream serves a create-only REST resource of k8s.io/kubernetes
// (the access and token reviews) over skiff's scheme: skiff stores and
// serves the k8s.io/api external types as its internal ones, while the
// upstream REST works on k8s.io/kubernetes' internal types, so each request
// is converted in and the answer converted back with the upstream scheme's
// generated conversions.
package upstream

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
)

// Creater is what an upstream review REST offers.
type Creater interface {
	rest.Creater
	rest.Scoper
	rest.SingularNameProvider
	Destroy()
}

// Review adapts an upstream Creater to the external type New returns.
type Review struct {
	Upstream Creater
	// External returns a new object of the served (k8s.io/api) type.
	External func() runtime.Object
}

var (
	_ rest.Creater              = &Review{}
	_ rest.Scoper               = &Review{}
	_ rest.SingularNameProvider = &Review{}
	_ rest.Storage              = &Review{}
)

// New implements rest.Storage.
func (r *Review) New() runtime.Object { return r.External() }

// Destroy implements rest.Storage.
func (r *Review) Destroy() { r.Upstream.Destroy() }

// NamespaceScoped implements rest.Scoper.
func (r *Review) NamespaceScoped() bool { return r.Upstream.NamespaceScoped() }

// GetSingularName implements rest.SingularNameProvider.
func (r *Review) GetSingularName() string { return r.Upstream.GetSingularName() }

// Create implements rest.Creater.
func (r *Review) Create(ctx context.Context, obj runtime.Object, validate rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	in := r.Upstream.New()
	if err := legacyscheme.Scheme.Convert(obj, in, nil); err != nil {
		return nil, fmt.Errorf("convert %T to %T: %w", obj, in, err)
	}
	var upstreamValidate rest.ValidateObjectFunc
	if validate != nil {
		// Admission sees the served type, as for every other resource.
		upstreamValidate = func(ctx context.Context, o runtime.Object) error {
			ext := r.External()
			if err := legacyscheme.Scheme.Convert(o, ext, nil); err != nil {
				return fmt.Errorf("convert %T to %T: %w", o, ext, err)
			}
			return validate(ctx, ext)
		}
	}
	res, err := r.Upstream.Create(ctx, in, upstreamValidate, options)
	if err != nil {
		return nil, err
	}
	out := r.External()
	if err := legacyscheme.Scheme.Convert(res, out, nil); err != nil {
		return nil, fmt.Errorf("convert %T to %T: %w", res, out, err)
	}
	return out, nil
}
