// Package upstream runs an admission plugin of k8s.io/kubernetes on skiff's
// requests. skiff serves the k8s.io/api external types as its
// internal ones, while kube-apiserver's plugins read Kubernetes' internal
// types: the request's objects are converted to them first (with the
// generated conversions of the install packages imported here), and a
// mutating plugin's changes converted back into the request's object.
package upstream

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	_ "k8s.io/kubernetes/pkg/apis/authentication/install" // TokenRequest
	_ "k8s.io/kubernetes/pkg/apis/certificates/install"   // CertificateSigningRequest
	_ "k8s.io/kubernetes/pkg/apis/coordination/install"   // Lease
	_ "k8s.io/kubernetes/pkg/apis/core/install"           // Pod, Node
	_ "k8s.io/kubernetes/pkg/apis/policy/install"         // Eviction
	_ "k8s.io/kubernetes/pkg/apis/scheduling/install"     // PriorityClass
	_ "k8s.io/kubernetes/pkg/apis/storage/install"        // StorageClass
)

// Validator is an upstream plugin's validation (or mutation used only to
// refuse, as NodeRestriction's).
type Validator func(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error

// Validate runs v on a copy of a whose objects are Kubernetes' internal
// types. Objects of kinds the imported install packages do not register
// pass unchanged (the plugins do not read them); a known kind that does not
// convert is an error.
func Validate(ctx context.Context, v Validator, a admission.Attributes, o admission.ObjectInterfaces) error {
	obj, err := toInternal(a.GetObject())
	if err != nil {
		return err
	}
	old, err := toInternal(a.GetOldObject())
	if err != nil {
		return err
	}
	internal := admission.NewAttributesRecord(obj, old, a.GetKind(), a.GetNamespace(), a.GetName(), a.GetResource(),
		a.GetSubresource(), a.GetOperation(), a.GetOperationOptions(), a.IsDryRun(), a.GetUserInfo())
	return v(ctx, internal, o)
}

func toInternal(obj runtime.Object) (runtime.Object, error) {
	if obj == nil {
		return nil, nil
	}
	// A custom resource (Unstructured) reports its declared kind, which
	// Kubernetes' scheme cannot convert: the plugins get it as it is.
	if _, ok := obj.(runtime.Unstructured); ok {
		return obj, nil
	}
	gvks, _, err := legacyscheme.Scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 || !legacyscheme.Scheme.Recognizes(gvks[0].GroupKind().WithVersion(runtime.APIVersionInternal)) {
		return obj, nil //nolint:nilerr // not a kind the plugins read
	}
	internal, err := legacyscheme.Scheme.ConvertToVersion(obj, gvks[0].GroupKind().WithVersion(runtime.APIVersionInternal).GroupVersion())
	if err != nil {
		return nil, fmt.Errorf("admission: convert %s to Kubernetes' internal type: %w", gvks[0], err)
	}
	return internal, nil
}

// Mutate runs m on a copy of a whose objects are Kubernetes' internal types
// and converts what m changed back into a's object.
func Mutate(ctx context.Context, m Validator, a admission.Attributes, o admission.ObjectInterfaces) error {
	obj := a.GetObject()
	in, err := toInternal(obj)
	if err != nil {
		return err
	}
	old, err := toInternal(a.GetOldObject())
	if err != nil {
		return err
	}
	internal := admission.NewAttributesRecord(in, old, a.GetKind(), a.GetNamespace(), a.GetName(), a.GetResource(),
		a.GetSubresource(), a.GetOperation(), a.GetOperationOptions(), a.IsDryRun(), a.GetUserInfo())
	if err := m(ctx, internal, o); err != nil {
		return err
	}
	if in == obj {
		return nil
	}
	if err := legacyscheme.Scheme.Convert(in, obj, nil); err != nil {
		return fmt.Errorf("admission: convert %T back to %T: %w", in, obj, err)
	}
	return nil
}

// Plugin runs an upstream admission plugin (its Admit and Validate, where
// it has them) on internal copies of the request's objects.
type Plugin struct {
	Upstream admission.Interface
}

var (
	_ admission.MutationInterface   = Plugin{}
	_ admission.ValidationInterface = Plugin{}
)

// Handles implements admission.Interface.
func (p Plugin) Handles(op admission.Operation) bool { return p.Upstream.Handles(op) }

// Admit implements admission.MutationInterface.
func (p Plugin) Admit(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error {
	m, ok := p.Upstream.(admission.MutationInterface)
	if !ok {
		return nil
	}
	return Mutate(ctx, m.Admit, a, o)
}

// Validate implements admission.ValidationInterface.
func (p Plugin) Validate(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error {
	v, ok := p.Upstream.(admission.ValidationInterface)
	if !ok {
		return nil
	}
	return Validate(ctx, v.Validate, a, o)
}
