// Package upstream runs a validating admission plugin of k8s.io/kubernetes
// on skiff's requests. skiff serves the k8s.io/api external types as its
// internal ones, while kube-apiserver's plugins read Kubernetes' internal
// types: the request's objects are converted to them first (with the
// generated conversions of the install packages imported here).
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
	gvks, _, err := legacyscheme.Scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return obj, nil //nolint:nilerr // not a kind the plugins read
	}
	internal, err := legacyscheme.Scheme.ConvertToVersion(obj, gvks[0].GroupKind().WithVersion(runtime.APIVersionInternal).GroupVersion())
	if err != nil {
		return nil, fmt.Errorf("admission: convert %s to Kubernetes' internal type: %w", gvks[0], err)
	}
	return internal, nil
}

// Mutator is an upstream mutating plugin's Admit.
type Mutator func(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error

// Mutate runs m on a copy of a whose object is Kubernetes' internal type,
// then converts what m changed back into a's own object.
func Mutate(ctx context.Context, m Mutator, a admission.Attributes, o admission.ObjectInterfaces) error {
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
	if err := m(ctx, internal, o); err != nil {
		return err
	}
	if obj == nil || obj == a.GetObject() {
		return nil
	}
	if err := legacyscheme.Scheme.Convert(obj, a.GetObject(), nil); err != nil {
		return fmt.Errorf("admission: convert %T back to %T: %w", obj, a.GetObject(), err)
	}
	return nil
}
