// Package discovery serves the discovery.k8s.io API group: EndpointSlice,
// with Kubernetes' defaulting, validation (field paths and messages),
// generation handling and kubectl table columns.
//
// The kubernetes.io/service-name label is stored as given; the endpointslice
// controller owns it.
package discovery

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/registry/store"
)

// GroupName is the API group this package serves.
const GroupName = "discovery.k8s.io"

// labelHostname is the topology key that older clients used for the node name.
const labelHostname = "kubernetes.io/hostname"

// Kinds returns the kinds this group serves, in the order they should be installed.
func Kinds() []*store.Kind {
	return []*store.Kind{endpointSliceKind()}
}

// RegisterDefaults registers the defaulting functions of this group's types
// with the scheme: a port's name defaults to "" and its protocol to TCP.
func RegisterDefaults(scheme *runtime.Scheme) {
	scheme.AddTypeDefaultingFunc(&discoveryv1.EndpointSlice{}, func(o interface{}) {
		setDefaultsEndpointSlice(o.(*discoveryv1.EndpointSlice))
	})
	scheme.AddTypeDefaultingFunc(&discoveryv1.EndpointSliceList{}, func(o interface{}) {
		l := o.(*discoveryv1.EndpointSliceList)
		for i := range l.Items {
			setDefaultsEndpointSlice(&l.Items[i])
		}
	})
}

func setDefaultsEndpointSlice(eps *discoveryv1.EndpointSlice) {
	for i := range eps.Ports {
		p := &eps.Ports[i]
		if p.Name == nil {
			p.Name = ptr.To("")
		}
		if p.Protocol == nil {
			p.Protocol = ptr.To(corev1.ProtocolTCP)
		}
	}
}

func endpointSliceKind() *store.Kind {
	return &store.Kind{
		Resource:   schema.GroupResource{Group: GroupName, Resource: "endpointslices"},
		Kind:       "EndpointSlice",
		Namespaced: true,
		New:        func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		NewList:    func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateEndpointSlice(obj.(*discoveryv1.EndpointSlice))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			eps, oldEPS := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
			errs := validateEndpointSlice(eps)
			return append(errs, apivalidation.ValidateImmutableField(eps.AddressType, oldEPS.AddressType, field.NewPath("addressType"))...)
		},
		PrepareForCreate:    prepareForCreate,
		PrepareForUpdate:    prepareForUpdate,
		AllowCreateOnUpdate: false,
		Columns:             endpointSliceColumns,
		Row:                 endpointSliceRow,
	}
}

// prepareForCreate starts the generation at 1 (an EndpointSlice has no spec,
// so the generic strategy leaves it) and drops deprecatedTopology, which
// discovery.k8s.io/v1 writes may not set.
func prepareForCreate(_ context.Context, obj runtime.Object) {
	eps := obj.(*discoveryv1.EndpointSlice)
	eps.Generation = 1
	dropDeprecatedTopology(nil, eps)
}

// prepareForUpdate bumps the generation when anything but the metadata, or
// the labels, changed, as Kubernetes does.
func prepareForUpdate(_ context.Context, obj, old runtime.Object) {
	eps, oldEPS := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
	dropDeprecatedTopology(oldEPS, eps)
	eps.Generation = oldEPS.Generation
	if !apiequality.Semantic.DeepEqual(contentOf(eps), contentOf(oldEPS)) || !apiequality.Semantic.DeepEqual(eps.Labels, oldEPS.Labels) {
		eps.Generation = oldEPS.Generation + 1
	}
}

func contentOf(eps *discoveryv1.EndpointSlice) discoveryv1.EndpointSlice {
	return discoveryv1.EndpointSlice{AddressType: eps.AddressType, Endpoints: eps.Endpoints, Ports: eps.Ports}
}

// dropDeprecatedTopology clears deprecatedTopology when the endpoints change;
// a node name an update still carries there, from the previous version, moves
// to nodeName.
func dropDeprecatedTopology(old, eps *discoveryv1.EndpointSlice) {
	if old != nil && apiequality.Semantic.DeepEqual(old.Endpoints, eps.Endpoints) {
		return
	}
	prevNodeNames := map[string]bool{}
	if old != nil {
		for _, ep := range old.Endpoints {
			if n, ok := ep.DeprecatedTopology[labelHostname]; ok {
				prevNodeNames[n] = true
			}
		}
	}
	for i := range eps.Endpoints {
		ep := &eps.Endpoints[i]
		if n, ok := ep.DeprecatedTopology[labelHostname]; ok && ep.NodeName == nil && prevNodeNames[n] &&
			len(apivalidation.NameIsDNSSubdomain(n, false)) == 0 {
			ep.NodeName = ptr.To(n)
		}
		ep.DeprecatedTopology = nil
	}
}

var endpointSliceColumns = []metav1.TableColumnDefinition{
	{Name: "AddressType", Type: "string", Description: discoveryv1.EndpointSlice{}.SwaggerDoc()["addressType"]},
	{Name: "Ports", Type: "string", Description: discoveryv1.EndpointSlice{}.SwaggerDoc()["ports"]},
	{Name: "Endpoints", Type: "string", Description: discoveryv1.EndpointSlice{}.SwaggerDoc()["endpoints"]},
	store.AgeColumn,
}
