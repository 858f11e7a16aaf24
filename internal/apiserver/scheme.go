package apiserver

import (
	"fmt"
	"reflect"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/metrics/pkg/apis/metrics"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"skiff.dev/skiff/internal/registry/admissionregistration"
	"skiff.dev/skiff/internal/registry/apps"
	"skiff.dev/skiff/internal/registry/autoscaling"
	"skiff.dev/skiff/internal/registry/batch"
	"skiff.dev/skiff/internal/registry/certificates"
	"skiff.dev/skiff/internal/registry/coordination"
	"skiff.dev/skiff/internal/registry/core"
	"skiff.dev/skiff/internal/registry/discovery"
	"skiff.dev/skiff/internal/registry/events"
	"skiff.dev/skiff/internal/registry/networking"
	"skiff.dev/skiff/internal/registry/podsub"
	"skiff.dev/skiff/internal/registry/policy"
	"skiff.dev/skiff/internal/registry/proxysub"
	"skiff.dev/skiff/internal/registry/rbac"
	"skiff.dev/skiff/internal/registry/scheduling"
	"skiff.dev/skiff/internal/registry/storage"
	"skiff.dev/skiff/internal/registry/store"
)

// Group is one API group as served: its versions, most preferred first, and
// its kinds. Every kind is served at every version of its group.
type Group struct {
	Name     string
	Versions []schema.GroupVersion
	Kinds    []*store.Kind
	// Views are resources of groups listed before this one that this group
	// serves too: the same stored objects, in this group's types, which
	// the scheme converts to and from the stored kind (events.k8s.io/v1
	// events are core/v1 events).
	Views []schema.GroupResource
}

// Groups returns the API groups skiff serves from its stores, the legacy
// core group first. guard checks role and binding writes for escalation.
func Groups(guard *rbac.Guard) []Group {
	return []Group{
		{Name: "", Versions: []schema.GroupVersion{corev1.SchemeGroupVersion}, Kinds: core.Kinds()},
		{Name: appsv1.GroupName, Versions: []schema.GroupVersion{appsv1.SchemeGroupVersion}, Kinds: apps.Kinds()},
		{Name: autoscalingv2.GroupName, Versions: []schema.GroupVersion{autoscalingv2.SchemeGroupVersion, autoscalingv1.SchemeGroupVersion}, Kinds: autoscaling.Kinds()},
		{Name: batchv1.GroupName, Versions: []schema.GroupVersion{batchv1.SchemeGroupVersion}, Kinds: batch.Kinds()},
		{Name: networkingv1.GroupName, Versions: []schema.GroupVersion{networkingv1.SchemeGroupVersion}, Kinds: networking.Kinds()},
		{Name: discoveryv1.GroupName, Versions: []schema.GroupVersion{discoveryv1.SchemeGroupVersion}, Kinds: discovery.Kinds()},
		{Name: coordinationv1.GroupName, Versions: []schema.GroupVersion{coordinationv1.SchemeGroupVersion}, Kinds: coordination.Kinds()},
		{Name: eventsv1.GroupName, Versions: []schema.GroupVersion{eventsv1.SchemeGroupVersion}, Views: []schema.GroupResource{events.Resource}},
		{Name: rbacv1.GroupName, Versions: []schema.GroupVersion{rbacv1.SchemeGroupVersion}, Kinds: rbac.Kinds(guard)},
		{Name: certificatesv1.GroupName, Versions: []schema.GroupVersion{certificatesv1.SchemeGroupVersion}, Kinds: certificates.Kinds()},
		{Name: storagev1.GroupName, Versions: []schema.GroupVersion{storagev1.SchemeGroupVersion}, Kinds: storage.Kinds()},
		{Name: policyv1.GroupName, Versions: []schema.GroupVersion{policyv1.SchemeGroupVersion}, Kinds: policy.Kinds()},
		{Name: schedulingv1.GroupName, Versions: []schema.GroupVersion{schedulingv1.SchemeGroupVersion}, Kinds: scheduling.Kinds()},
		{Name: admissionregistrationv1.GroupName, Versions: []schema.GroupVersion{admissionregistrationv1.SchemeGroupVersion}, Kinds: admissionregistration.Kinds()},
	}
}

// NewScheme returns the scheme of every served type with its defaults and
// conversions, and the codec factory over it.
//
// skiff serves the k8s.io/api types directly: each external type is also
// registered as its group's internal version, so the generic API server's
// conversions to and from the internal version are identities. The one
// exceptions are autoscaling/v1 HorizontalPodAutoscaler, converted to and
// from the stored autoscaling/v2 type, and events.k8s.io/v1 Event, converted
// to and from the stored core/v1 Event.
func NewScheme(groups []Group) (*runtime.Scheme, serializer.CodecFactory, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, autoscalingv1.AddToScheme, autoscalingv2.AddToScheme,
		batchv1.AddToScheme, networkingv1.AddToScheme, discoveryv1.AddToScheme, coordinationv1.AddToScheme,
		eventsv1.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme, certificatesv1.AddToScheme,
		storagev1.AddToScheme,
		schedulingv1.AddToScheme,
		admissionregistrationv1.AddToScheme,
		// The reviews, served without a store.
		authorizationv1.AddToScheme, authenticationv1.AddToScheme,
		// metrics.k8s.io has internal types of its own, with conversions.
		metrics.AddToScheme, metricsv1beta1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, serializer.CodecFactory{}, fmt.Errorf("build scheme: %w", err)
		}
	}
	// The groups served by Kubernetes' own registries bring their
	// internal types, conversions and version priorities.
	for _, g := range upstreamGroups() {
		g.install(scheme)
	}
	// Versions the subresources use (Scale, Eviction) are internal too.
	internalGroups := [][]schema.GroupVersion{{policyv1.SchemeGroupVersion},
		{authorizationv1.SchemeGroupVersion}, {authenticationv1.SchemeGroupVersion}}
	for _, g := range groups {
		internalGroups = append(internalGroups, g.Versions)
		if err := scheme.SetVersionPriority(g.Versions...); err != nil {
			return nil, serializer.CodecFactory{}, fmt.Errorf("version priority of %q: %w", g.Name, err)
		}
	}
	for _, gv := range []schema.GroupVersion{policyv1.SchemeGroupVersion, authorizationv1.SchemeGroupVersion, authenticationv1.SchemeGroupVersion} {
		if err := scheme.SetVersionPriority(gv); err != nil {
			return nil, serializer.CodecFactory{}, err
		}
	}
	if err := scheme.SetVersionPriority(metricsv1beta1.SchemeGroupVersion); err != nil {
		return nil, serializer.CodecFactory{}, err
	}
	// events.k8s.io's internal Event is core/v1's, before registerInternal
	// would make it events.k8s.io/v1's.
	if err := events.Install(scheme); err != nil {
		return nil, serializer.CodecFactory{}, err
	}
	for _, versions := range internalGroups {
		registerInternal(scheme, versions)
	}

	core.RegisterDefaults(scheme)
	apps.RegisterDefaults(scheme)
	autoscaling.RegisterDefaults(scheme)
	batch.RegisterDefaults(scheme)
	networking.RegisterDefaults(scheme)
	discovery.RegisterDefaults(scheme)
	coordination.RegisterDefaults(scheme)
	rbac.RegisterDefaults(scheme)
	certificates.RegisterDefaults(scheme)
	storage.RegisterDefaults(scheme)
	policy.RegisterDefaults(scheme)
	scheduling.RegisterDefaults(scheme)
	admissionregistration.RegisterDefaults(scheme)
	if err := podsub.RegisterConversions(scheme); err != nil {
		return nil, serializer.CodecFactory{}, err
	}
	if err := proxysub.RegisterConversions(scheme); err != nil {
		return nil, serializer.CodecFactory{}, err
	}
	if err := autoscaling.RegisterConversions(scheme); err != nil {
		return nil, serializer.CodecFactory{}, fmt.Errorf("autoscaling conversions: %w", err)
	}
	for _, g := range groups {
		for _, k := range g.Kinds {
			if err := registerFieldLabels(scheme, g, k); err != nil {
				return nil, serializer.CodecFactory{}, err
			}
		}
	}
	return scheme, serializer.NewCodecFactory(scheme), nil
}

const metaV1Package = "k8s.io/apimachinery/pkg/apis/meta/v1"

// registerInternal registers the kinds of the given versions, in priority
// order, as the group's internal version: the first version to name a kind
// supplies its internal type.
func registerInternal(scheme *runtime.Scheme, versions []schema.GroupVersion) {
	internal := schema.GroupVersion{Group: versions[0].Group, Version: runtime.APIVersionInternal}
	for _, gv := range versions {
		for kind, t := range scheme.KnownTypes(gv) {
			if t.PkgPath() == metaV1Package {
				continue
			}
			if scheme.Recognizes(internal.WithKind(kind)) {
				continue
			}
			scheme.AddKnownTypeWithName(internal.WithKind(kind), reflect.New(t).Interface().(runtime.Object))
		}
	}
}

// registerFieldLabels allows, at every served version of the kind, the field
// selectors its Kind declares (an empty object lists the keys).
func registerFieldLabels(scheme *runtime.Scheme, g Group, k *store.Kind) error {
	allowed := map[string]bool{"metadata.name": true}
	if k.Namespaced {
		allowed["metadata.namespace"] = true
	}
	if k.SelectableFields != nil {
		for key := range k.SelectableFields(k.New()) {
			allowed[key] = true
		}
	}
	for _, gv := range g.Versions {
		gvk := gv.WithKind(k.Kind)
		if !scheme.Recognizes(gvk) {
			continue
		}
		err := scheme.AddFieldLabelConversionFunc(gvk, func(label, value string) (string, string, error) {
			if !allowed[label] {
				return "", "", fmt.Errorf("field label not supported: %s", label)
			}
			return label, value, nil
		})
		if err != nil {
			return fmt.Errorf("field labels of %s: %w", gvk, err)
		}
	}
	return nil
}
