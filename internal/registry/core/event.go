package core

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	api "k8s.io/kubernetes/pkg/apis/core"
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"

	"skiff.dev/skiff/internal/registry/store"
	"skiff.dev/skiff/internal/registry/upstream"
)

// Events are stored once, as core/v1 Events, and served through two APIs:
// core/v1 and events.k8s.io/v1 (whose scheme conversions live in
// internal/registry/events). As in Kubernetes, each write is checked by
// the rules of the API it came through (k8s.io/kubernetes' event
// validation, given the request's group version): core/v1 keeps the
// legacy rules, events.k8s.io/v1 checks new events strictly (eventTime,
// reportingController, DNS subdomain names, no deprecated fields). Error
// paths use the core field names (involvedObject for regarding, message
// for note), as Kubernetes' do.

func eventKind() *store.Kind {
	newInternal := func() *api.Event { return &api.Event{} }
	return &store.Kind{
		Resource:   groupResource("events"),
		Kind:       "Event",
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.Event{} },
		NewList:    func() runtime.Object { return &corev1.EventList{} },
		ShortNames: []string{"ev"},
		// core/v1 events keep the legacy rules: any name that fits in a URL
		// path segment ("pod.17a2b3c4d5e6f7"). events.k8s.io writes need a
		// DNS subdomain, e.g. ml-model-7d9f8b6c5-x2k4p.17a2b3c4d5e6f7a8.
		NameValidation: path.ValidatePathSegmentName,
		RequestNameValidation: func(ctx context.Context) apivalidation.ValidateNameFunc {
			if eventRequestVersion(ctx).Group == eventsv1.GroupName {
				return apivalidation.NameIsDNSSubdomain
			}
			return path.ValidatePathSegmentName
		},
		Validate: func(ctx context.Context, obj runtime.Object) field.ErrorList {
			gv := eventRequestVersion(ctx)
			return upstream.Validate(obj, newInternal, func(e *api.Event) field.ErrorList {
				return corevalidation.ValidateEventCreate(e, gv)
			})
		},
		ValidateUpdate: func(ctx context.Context, obj, old runtime.Object) field.ErrorList {
			gv := eventRequestVersion(ctx)
			return upstream.ValidateUpdate(obj, old, newInternal, func(e, oldEvent *api.Event) field.ErrorList {
				return corevalidation.ValidateEventUpdate(e, oldEvent, gv)
			})
		},
		// Recorders write event series with PUT as well as POST.
		AllowCreateOnUpdate: true,

		Columns: []metav1.TableColumnDefinition{
			col("Last Seen", "string", corev1.Event{}.SwaggerDoc()["lastTimestamp"]),
			col("Type", "string", corev1.Event{}.SwaggerDoc()["type"]),
			col("Reason", "string", corev1.Event{}.SwaggerDoc()["reason"]),
			col("Object", "string", corev1.Event{}.SwaggerDoc()["involvedObject"]),
			wideCol("Subobject", "string", corev1.Event{}.InvolvedObject.SwaggerDoc()["fieldPath"]),
			wideCol("Source", "string", corev1.Event{}.SwaggerDoc()["source"]),
			col("Message", "string", corev1.Event{}.SwaggerDoc()["message"]),
			wideCol("First Seen", "string", corev1.Event{}.SwaggerDoc()["firstTimestamp"]),
			wideCol("Count", "string", corev1.Event{}.SwaggerDoc()["count"]),
		},
		Row:              eventRow,
		SelectableFields: eventSelectableFields,
	}
}

// eventRequestVersion is the group version a write came through, which
// picks the validation rules. Without request information (a caller inside
// the server) it is core/v1, the stored version.
func eventRequestVersion(ctx context.Context) schema.GroupVersion {
	if info, ok := genericapirequest.RequestInfoFrom(ctx); ok && info.APIVersion != "" {
		return schema.GroupVersion{Group: info.APIGroup, Version: info.APIVersion}
	}
	return corev1.SchemeGroupVersion
}

// eventSelectableFields are the fields a selector may use, under their
// core/v1 names; events.k8s.io/v1 selectors (regarding.*,
// reportingController) are mapped to them by the scheme's field label
// conversion.
func eventSelectableFields(obj runtime.Object) fields.Set {
	e := obj.(*corev1.Event)
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	return fields.Set{
		"involvedObject.kind":            e.InvolvedObject.Kind,
		"involvedObject.namespace":       e.InvolvedObject.Namespace,
		"involvedObject.name":            e.InvolvedObject.Name,
		"involvedObject.uid":             string(e.InvolvedObject.UID),
		"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         source,
		"type":                           e.Type,
	}
}

// eventRow renders the event columns the way kubectl's event printer does:
// LAST SEEN falls back to the first timestamp and the series' last
// observation, OBJECT is kind/name in lower-case kind.
func eventRow(obj runtime.Object) ([]interface{}, error) {
	e := obj.(*corev1.Event)
	first := store.Age(e.FirstTimestamp)
	if e.FirstTimestamp.IsZero() {
		first = microAge(e.EventTime)
	}
	last := store.Age(e.LastTimestamp)
	if e.LastTimestamp.IsZero() {
		last = first
	}
	count := e.Count
	if e.Series != nil {
		last = microAge(e.Series.LastObservedTime)
		count = e.Series.Count
	} else if count == 0 {
		count = 1
	}
	target := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		target += "/" + e.InvolvedObject.Name
	}
	return []interface{}{
		last,
		e.Type,
		e.Reason,
		target,
		e.InvolvedObject.FieldPath,
		eventSource(e),
		strings.TrimSpace(e.Message),
		first,
		int64(count),
	}, nil
}

func microAge(t metav1.MicroTime) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return store.Age(metav1.NewTime(t.Time))
}

// eventSource is the SOURCE column: "component, host", from the legacy
// source or the reporting controller and instance.
func eventSource(e *corev1.Event) string {
	component, instance := e.Source.Component, e.Source.Host
	if component == "" {
		component = e.ReportingController
	}
	if instance == "" {
		instance = e.ReportingInstance
	}
	if instance == "" {
		return component
	}
	return component + ", " + instance
}
