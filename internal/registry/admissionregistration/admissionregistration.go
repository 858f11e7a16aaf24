// Package admissionregistration serves the admissionregistration.k8s.io
// API group: MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
// ValidatingAdmissionPolicy (with its status subresource) and
// ValidatingAdmissionPolicyBinding, defaulted and validated as Kubernetes
// does (its own defaulting and validation, run on its internal types), with
// kubectl's table columns. The admission plugins that act on these objects
// are k8s.io/apiserver's, wired in internal/apiserver.
package admissionregistration

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/features"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	internal "k8s.io/kubernetes/pkg/apis/admissionregistration"
	_ "k8s.io/kubernetes/pkg/apis/admissionregistration/install" // conversions to the internal types
	upstreamv1 "k8s.io/kubernetes/pkg/apis/admissionregistration/v1"
	"k8s.io/kubernetes/pkg/apis/admissionregistration/validation"
	"k8s.io/kubernetes/pkg/kubeapiserver/admission/exclusion"

	"skiff.dev/skiff/internal/registry/store"
)

// GroupName is the API group this package serves.
const GroupName = admissionregistrationv1.GroupName

// Kinds returns the kinds this group serves.
func Kinds() []*store.Kind {
	return []*store.Kind{
		mutatingWebhookConfigurationKind(), validatingWebhookConfigurationKind(),
		validatingAdmissionPolicyKind(), validatingAdmissionPolicyBindingKind(),
	}
}

// RegisterDefaults registers Kubernetes' defaulting of the
// admissionregistration.k8s.io/v1 types (failurePolicy Fail, matchPolicy
// Equivalent, empty selectors, timeoutSeconds 10, service port 443...).
func RegisterDefaults(scheme *runtime.Scheme) {
	_ = upstreamv1.RegisterDefaults(scheme) // only adds defaulting funcs; never fails
}

// toInternal converts a served object to Kubernetes' internal type of the
// same kind, which its validation reads.
func toInternal[T any](obj runtime.Object) (*T, error) {
	out := new(T)
	if err := legacyscheme.Scheme.Convert(obj, out, nil); err != nil {
		return nil, fmt.Errorf("convert %T to Kubernetes' internal type: %w", obj, err)
	}
	return out, nil
}

// validate converts obj (and old, when given) and runs check on them; a
// failed conversion is reported as an internal error on the object.
func validate[T any](obj, old runtime.Object, check func(obj, old *T) field.ErrorList) field.ErrorList {
	in, err := toInternal[T](obj)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	var oldIn *T
	if old != nil {
		if oldIn, err = toInternal[T](old); err != nil {
			return field.ErrorList{field.InternalError(nil, err)}
		}
	}
	return check(in, oldIn)
}

func mutatingWebhookConfigurationKind() *store.Kind {
	return &store.Kind{
		Resource:            schema.GroupResource{Group: GroupName, Resource: "mutatingwebhookconfigurations"},
		Kind:                "MutatingWebhookConfiguration",
		New:                 func() runtime.Object { return &admissionregistrationv1.MutatingWebhookConfiguration{} },
		NewList:             func() runtime.Object { return &admissionregistrationv1.MutatingWebhookConfigurationList{} },
		Categories:          []string{"api-extensions"},
		NoStatusSubresource: true,
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validate(obj, nil, func(c, _ *internal.MutatingWebhookConfiguration) field.ErrorList {
				return append(validation.ValidateMutatingWebhookConfiguration(c), staticSuffix(c.Name)...)
			})
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validate(obj, old, validation.ValidateMutatingWebhookConfigurationUpdate)
		},
		Warnings: func(_ context.Context, obj runtime.Object) []string {
			c, err := toInternal[internal.MutatingWebhookConfiguration](obj)
			if err != nil {
				return nil
			}
			return validation.WarningsForMutatingWebhookRules(c.Webhooks, exclusion.Excluded())
		},
		Columns: webhooksColumns,
		Row: func(obj runtime.Object) ([]interface{}, error) {
			c, ok := obj.(*admissionregistrationv1.MutatingWebhookConfiguration)
			if !ok {
				return nil, fmt.Errorf("table row: unexpected type %T", obj)
			}
			return []interface{}{int64(len(c.Webhooks)), store.Age(c.CreationTimestamp)}, nil
		},
	}
}

func validatingWebhookConfigurationKind() *store.Kind {
	return &store.Kind{
		Resource:            schema.GroupResource{Group: GroupName, Resource: "validatingwebhookconfigurations"},
		Kind:                "ValidatingWebhookConfiguration",
		New:                 func() runtime.Object { return &admissionregistrationv1.ValidatingWebhookConfiguration{} },
		NewList:             func() runtime.Object { return &admissionregistrationv1.ValidatingWebhookConfigurationList{} },
		Categories:          []string{"api-extensions"},
		NoStatusSubresource: true,
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validate(obj, nil, func(c, _ *internal.ValidatingWebhookConfiguration) field.ErrorList {
				return append(validation.ValidateValidatingWebhookConfiguration(c), staticSuffix(c.Name)...)
			})
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validate(obj, old, validation.ValidateValidatingWebhookConfigurationUpdate)
		},
		Warnings: func(_ context.Context, obj runtime.Object) []string {
			c, err := toInternal[internal.ValidatingWebhookConfiguration](obj)
			if err != nil {
				return nil
			}
			return validation.WarningsForValidatingWebhookRules(c.Webhooks, exclusion.Excluded())
		},
		Columns: webhooksColumns,
		Row: func(obj runtime.Object) ([]interface{}, error) {
			c, ok := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration)
			if !ok {
				return nil, fmt.Errorf("table row: unexpected type %T", obj)
			}
			return []interface{}{int64(len(c.Webhooks)), store.Age(c.CreationTimestamp)}, nil
		},
	}
}

func validatingAdmissionPolicyKind() *store.Kind {
	return &store.Kind{
		Resource:   schema.GroupResource{Group: GroupName, Resource: "validatingadmissionpolicies"},
		Kind:       "ValidatingAdmissionPolicy",
		New:        func() runtime.Object { return &admissionregistrationv1.ValidatingAdmissionPolicy{} },
		NewList:    func() runtime.Object { return &admissionregistrationv1.ValidatingAdmissionPolicyList{} },
		Categories: []string{"api-extensions"},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validate(obj, nil, func(p, _ *internal.ValidatingAdmissionPolicy) field.ErrorList {
				return append(validation.ValidateValidatingAdmissionPolicy(p), staticSuffix(p.Name)...)
			})
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validate(obj, old, validation.ValidateValidatingAdmissionPolicyUpdate)
		},
		ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validate(obj, old, validation.ValidateValidatingAdmissionPolicyStatusUpdate)
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Validations", Type: "integer", Description: "Validations indicates the number of validation rules defined in this configuration"},
			{Name: "ParamKind", Type: "string", Description: "ParamKind specifies the kind of resources used to parameterize this policy"},
			store.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			p, ok := obj.(*admissionregistrationv1.ValidatingAdmissionPolicy)
			if !ok {
				return nil, fmt.Errorf("table row: unexpected type %T", obj)
			}
			return []interface{}{int64(len(p.Spec.Validations)), paramKind(p.Spec.ParamKind), store.Age(p.CreationTimestamp)}, nil
		},
	}
}

func validatingAdmissionPolicyBindingKind() *store.Kind {
	return &store.Kind{
		Resource:            schema.GroupResource{Group: GroupName, Resource: "validatingadmissionpolicybindings"},
		Kind:                "ValidatingAdmissionPolicyBinding",
		New:                 func() runtime.Object { return &admissionregistrationv1.ValidatingAdmissionPolicyBinding{} },
		NewList:             func() runtime.Object { return &admissionregistrationv1.ValidatingAdmissionPolicyBindingList{} },
		Categories:          []string{"api-extensions"},
		NoStatusSubresource: true,
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validate(obj, nil, func(b, _ *internal.ValidatingAdmissionPolicyBinding) field.ErrorList {
				return append(validation.ValidateValidatingAdmissionPolicyBinding(b), staticSuffix(b.Name)...)
			})
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validate(obj, old, validation.ValidateValidatingAdmissionPolicyBindingUpdate)
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "PolicyName", Type: "string", Description: "PolicyName indicates the policy definition which the policy binding binded to"},
			{Name: "ParamRef", Type: "string", Description: "ParamRef indicates the param resource which sets the configuration param"},
			store.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			b, ok := obj.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding)
			if !ok {
				return nil, fmt.Errorf("table row: unexpected type %T", obj)
			}
			return []interface{}{b.Spec.PolicyName, paramRef(b.Spec.ParamRef), store.Age(b.CreationTimestamp)}, nil
		},
	}
}

// staticSuffix refuses, on create, the names Kubernetes reserves for
// configurations loaded from manifest files (ManifestBasedAdmissionControlConfig,
// on by default), which skiff does not load.
func staticSuffix(name string) field.ErrorList {
	if !utilfeature.DefaultFeatureGate.Enabled(features.ManifestBasedAdmissionControlConfig) {
		return nil
	}
	return validation.ValidateStaticSuffix(name, field.NewPath("metadata", "name"))
}

var webhooksColumns = []metav1.TableColumnDefinition{
	{Name: "Webhooks", Type: "integer", Description: "Webhooks indicates the number of webhooks registered in this configuration"},
	store.AgeColumn,
}

// paramKind is the ParamKind column: apiVersion/kind, or <unset>.
func paramKind(k *admissionregistrationv1.ParamKind) string {
	if k == nil {
		return "<unset>"
	}
	return k.APIVersion + "/" + k.Kind
}

// paramRef is the ParamRef column: namespace/name (*/name when no
// namespace is given), the selector, or <unset>.
func paramRef(r *admissionregistrationv1.ParamRef) string {
	switch {
	case r == nil:
		return "<unset>"
	case r.Name != "" && r.Namespace != "":
		return r.Namespace + "/" + r.Name
	case r.Name != "":
		return "*/" + r.Name
	case r.Selector != nil:
		return r.Selector.String()
	}
	return "<unset>"
}
