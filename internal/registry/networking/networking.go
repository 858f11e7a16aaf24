// Package networking serves the networking.k8s.io API group: Ingress,
// IngressClass and NetworkPolicy, with Kubernetes' defaulting, validation (field paths and
// messages) and kubectl table columns.
package networking

import (
	"context"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/registry/store"
)

// GroupName is the API group this package serves.
const GroupName = "networking.k8s.io"

// IngressClassAnnotation is the deprecated annotation that named an
// Ingress's class before spec.ingressClassName.
const IngressClassAnnotation = "kubernetes.io/ingress.class"

// Kinds returns the kinds this group serves, in the order they should be installed.
func Kinds() []*store.Kind {
	return []*store.Kind{ingressClassKind(), ingressKind(), networkPolicyKind()}
}

// RegisterDefaults registers the defaulting functions of this group's types
// with the scheme. Ingress has none in networking.k8s.io/v1 (pathType is
// required, not defaulted); an IngressClass's parameters default to the
// Cluster scope; NetworkPolicy defaults policyTypes and port protocols.
func RegisterDefaults(scheme *runtime.Scheme) {
	scheme.AddTypeDefaultingFunc(&networkingv1.IngressClass{}, func(o interface{}) {
		setDefaultsIngressClass(o.(*networkingv1.IngressClass))
	})
	scheme.AddTypeDefaultingFunc(&networkingv1.IngressClassList{}, func(o interface{}) {
		l := o.(*networkingv1.IngressClassList)
		for i := range l.Items {
			setDefaultsIngressClass(&l.Items[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&networkingv1.NetworkPolicy{}, func(o interface{}) {
		setDefaultsNetworkPolicy(o.(*networkingv1.NetworkPolicy))
	})
	scheme.AddTypeDefaultingFunc(&networkingv1.NetworkPolicyList{}, func(o interface{}) {
		l := o.(*networkingv1.NetworkPolicyList)
		for i := range l.Items {
			setDefaultsNetworkPolicy(&l.Items[i])
		}
	})
}

func setDefaultsIngressClass(ic *networkingv1.IngressClass) {
	if p := ic.Spec.Parameters; p != nil && p.Scope == nil {
		p.Scope = ptr.To(networkingv1.IngressClassParametersReferenceScopeCluster)
	}
}

func ingressKind() *store.Kind {
	return &store.Kind{
		Resource:   schema.GroupResource{Group: GroupName, Resource: "ingresses"},
		Kind:       "Ingress",
		Namespaced: true,
		New:        func() runtime.Object { return &networkingv1.Ingress{} },
		NewList:    func() runtime.Object { return &networkingv1.IngressList{} },
		ShortNames: []string{"ing"},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateIngressCreate(obj.(*networkingv1.Ingress))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateIngressUpdate(obj.(*networkingv1.Ingress), old.(*networkingv1.Ingress))
		},
		ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateIngressLoadBalancerStatus(&obj.(*networkingv1.Ingress).Status.LoadBalancer, field.NewPath("status", "loadBalancer"))
		},
		Warnings: ingressWarnings,
		Columns:  ingressColumns,
		Row:      ingressRow,
	}
}

// ingressWarnings warns, on create only as Kubernetes does, about the
// deprecated class annotation.
func ingressWarnings(ctx context.Context, obj runtime.Object) []string {
	if info, ok := genericapirequest.RequestInfoFrom(ctx); ok && info.Verb != "create" {
		return nil
	}
	ing := obj.(*networkingv1.Ingress)
	if _, ok := ing.Annotations[IngressClassAnnotation]; ok && ing.Spec.IngressClassName == nil {
		return []string{fmt.Sprintf("annotation %q is deprecated, please use 'spec.ingressClassName' instead", IngressClassAnnotation)}
	}
	return nil
}

func ingressClassKind() *store.Kind {
	return &store.Kind{
		Resource:   schema.GroupResource{Group: GroupName, Resource: "ingressclasses"},
		Kind:       "IngressClass",
		Namespaced: false,
		New:        func() runtime.Object { return &networkingv1.IngressClass{} },
		NewList:    func() runtime.Object { return &networkingv1.IngressClassList{} },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateIngressClassSpec(&obj.(*networkingv1.IngressClass).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			ic, oldIC := obj.(*networkingv1.IngressClass), old.(*networkingv1.IngressClass)
			errs := apivalidation.ValidateImmutableField(ic.Spec.Controller, oldIC.Spec.Controller, field.NewPath("spec", "controller"))
			return append(errs, validateIngressClassSpec(&ic.Spec, field.NewPath("spec"))...)
		},
		Columns: ingressClassColumns,
		Row:     ingressClassRow,
	}
}

var ingressColumns = []metav1.TableColumnDefinition{
	{Name: "Class", Type: "string", Description: "The name of the IngressClass resource that should be used for additional configuration"},
	{Name: "Hosts", Type: "string", Description: "Hosts that incoming requests are matched against before the ingress rule"},
	{Name: "Address", Type: "string", Description: "Address is a list containing ingress points for the load-balancer"},
	{Name: "Ports", Type: "string", Description: "Ports of TLS configurations that open"},
	store.AgeColumn,
}

var ingressClassColumns = []metav1.TableColumnDefinition{
	{Name: "Controller", Type: "string", Description: "Controller that is responsible for handling this class"},
	{Name: "Parameters", Type: "string", Description: "A reference to a resource with additional parameters"},
	store.AgeColumn,
}
