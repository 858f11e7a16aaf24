// Package events serves the events.k8s.io API group as Kubernetes does: as
// another view of the core/v1 events storage. An Event is stored once, as a
// core/v1 Event (internal/registry/core holds its kind: validation, table,
// field selectors); events.k8s.io/v1 requests are converted to and from it
// by the scheme, so an event written through either API is read, listed,
// watched and deleted through both.
//
// Install teaches a scheme that view: core/v1 Event is the group's internal
// type, converted with k8s.io/kubernetes' own conversions (regarding is
// involvedObject, note is message, deprecatedSource, deprecatedFirstTimestamp,
// deprecatedLastTimestamp and deprecatedCount are source, firstTimestamp,
// lastTimestamp and count), and events.k8s.io/v1 field selectors (regarding.*,
// reportingController) are mapped to the core ones.
//
// Kubernetes also expires events after an hour (the API server's
// --event-ttl); skiff keeps them until they are deleted.
package events

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	api "k8s.io/kubernetes/pkg/apis/core"
	corev1conversion "k8s.io/kubernetes/pkg/apis/core/v1"
	eventsv1conversion "k8s.io/kubernetes/pkg/apis/events/v1"
)

// GroupName is the API group this package serves.
const GroupName = eventsv1.GroupName

// Resource is the resource both APIs serve, stored under the core group.
var Resource = schema.GroupResource{Resource: "events"}

// Install registers, in a scheme that already knows the core/v1 and
// events.k8s.io/v1 types, core/v1 Event and EventList as the
// events.k8s.io internal types, the conversions between the two groups'
// types and the events.k8s.io/v1 field label conversion. Call it before
// the other groups' internal types are registered.
func Install(scheme *runtime.Scheme) error {
	internal := schema.GroupVersion{Group: GroupName, Version: runtime.APIVersionInternal}
	scheme.AddKnownTypes(internal, &corev1.Event{}, &corev1.EventList{})
	funcs := []struct {
		a, b interface{}
		fn   conversion.ConversionFunc
	}{
		{(*eventsv1.Event)(nil), (*corev1.Event)(nil), func(a, b interface{}, _ conversion.Scope) error {
			return ToCore(a.(*eventsv1.Event), b.(*corev1.Event))
		}},
		{(*corev1.Event)(nil), (*eventsv1.Event)(nil), func(a, b interface{}, _ conversion.Scope) error {
			return FromCore(a.(*corev1.Event), b.(*eventsv1.Event))
		}},
		{(*eventsv1.EventList)(nil), (*corev1.EventList)(nil), func(a, b interface{}, _ conversion.Scope) error {
			in, out := a.(*eventsv1.EventList), b.(*corev1.EventList)
			out.ListMeta = in.ListMeta
			out.Items = nil
			if in.Items != nil {
				out.Items = make([]corev1.Event, len(in.Items))
			}
			for i := range in.Items {
				if err := ToCore(&in.Items[i], &out.Items[i]); err != nil {
					return err
				}
			}
			return nil
		}},
		{(*corev1.EventList)(nil), (*eventsv1.EventList)(nil), func(a, b interface{}, _ conversion.Scope) error {
			in, out := a.(*corev1.EventList), b.(*eventsv1.EventList)
			out.ListMeta = in.ListMeta
			out.Items = nil
			if in.Items != nil {
				out.Items = make([]eventsv1.Event, len(in.Items))
			}
			for i := range in.Items {
				if err := FromCore(&in.Items[i], &out.Items[i]); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, f := range funcs {
		if err := scheme.AddConversionFunc(f.a, f.b, f.fn); err != nil {
			return fmt.Errorf("register Event conversion %T -> %T: %w", f.a, f.b, err)
		}
	}
	if err := eventsv1conversion.AddFieldLabelConversionsForEvent(scheme); err != nil {
		return fmt.Errorf("register events.k8s.io/v1 Event field labels: %w", err)
	}
	return nil
}

// ToCore converts an events.k8s.io/v1 Event to the stored core/v1 form,
// through Kubernetes' internal Event and its conversions. out may share
// memory with in.
func ToCore(in *eventsv1.Event, out *corev1.Event) error {
	var internal api.Event
	if err := eventsv1conversion.Convert_v1_Event_To_core_Event(in, &internal, nil); err != nil {
		return fmt.Errorf("convert events.k8s.io/v1 Event %s/%s: %w", in.Namespace, in.Name, err)
	}
	if err := corev1conversion.Convert_core_Event_To_v1_Event(&internal, out, nil); err != nil {
		return fmt.Errorf("convert Event %s/%s to core/v1: %w", in.Namespace, in.Name, err)
	}
	return nil
}

// FromCore converts a stored core/v1 Event to events.k8s.io/v1. out may
// share memory with in.
func FromCore(in *corev1.Event, out *eventsv1.Event) error {
	var internal api.Event
	if err := corev1conversion.Convert_v1_Event_To_core_Event(in, &internal, nil); err != nil {
		return fmt.Errorf("convert core/v1 Event %s/%s: %w", in.Namespace, in.Name, err)
	}
	if err := eventsv1conversion.Convert_core_Event_To_v1_Event(&internal, out, nil); err != nil {
		return fmt.Errorf("convert Event %s/%s to events.k8s.io/v1: %w", in.Namespace, in.Name, err)
	}
	return nil
}
