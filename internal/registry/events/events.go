// Package events serves the events.k8s.io API group: Event, the structured
// event type that client-go's events recorder (k8s.io/client-go/tools/events)
// writes.
//
// In Kubernetes, events.k8s.io/v1 is another view of the core/v1 events
// storage. For now skiff stores events.k8s.io Events separately from core/v1
// Events (a kubectl get events does not list them, and vice versa). Validation
// follows Kubernetes', which runs on the core shape: error paths use core
// names where the fields differ (involvedObject for regarding, message for
// note). Kubernetes also expires events after an hour (the API server's
// --event-ttl); this store keeps them until they are deleted.
package events

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/registry/store"
)

// GroupName is the API group this package serves.
const GroupName = "events.k8s.io"

// Length limits Kubernetes puts on event fields.
const (
	reportingInstanceLengthLimit = 128
	actionLengthLimit            = 128
	reasonLengthLimit            = 128
	noteLengthLimit              = 1024
)

// Kinds returns the kinds this group serves, in the order they should be installed.
func Kinds() []*store.Kind {
	return []*store.Kind{eventKind()}
}

// RegisterDefaults registers the defaulting functions of this group's types
// with the scheme. events.k8s.io/v1 has none.
func RegisterDefaults(*runtime.Scheme) {}

func eventKind() *store.Kind {
	return &store.Kind{
		Resource:   schema.GroupResource{Group: GroupName, Resource: "events"},
		Kind:       "Event",
		Namespaced: true,
		New:        func() runtime.Object { return &eventsv1.Event{} },
		NewList:    func() runtime.Object { return &eventsv1.EventList{} },
		ShortNames: []string{"ev"},
		// Recorders name events <object>.<hex timestamp>, e.g.
		// ml-model-7d9f8b6c5-x2k4p.17a2b3c4d5e6f7a8: a DNS subdomain, which
		// is what Kubernetes checks for events.k8s.io writes.
		NameValidation: apivalidation.NameIsDNSSubdomain,
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateEventCreate(obj.(*eventsv1.Event))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateEventUpdate(obj.(*eventsv1.Event), old.(*eventsv1.Event))
		},
		// Event series are written with PUT as well as POST.
		AllowCreateOnUpdate: true,
		SelectableFields:    selectableFields,
		Columns:             eventColumns,
		Row:                 eventRow,
	}
}

func validateEventCreate(ev *eventsv1.Event) field.ErrorList {
	errs := validateEventCommon(ev)
	errs = append(errs, validateSeries(ev.Series)...)
	if ev.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if ev.Type != corev1.EventTypeNormal && ev.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", ev.Type)))
	}
	if !ev.DeprecatedFirstTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedFirstTimestamp"), "", "needs to be unset"))
	}
	if !ev.DeprecatedLastTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedLastTimestamp"), "", "needs to be unset"))
	}
	if ev.DeprecatedCount != 0 {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedCount"), "", "needs to be unset"))
	}
	if ev.DeprecatedSource.Component != "" || ev.DeprecatedSource.Host != "" {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedSource"), "", "needs to be unset"))
	}
	return errs
}

// validateEventUpdate lets only the series (and metadata) change.
func validateEventUpdate(ev, old *eventsv1.Event) field.ErrorList {
	errs := validateEventCommon(ev)
	if !seriesEqual(ev.Series, old.Series) {
		errs = append(errs, validateSeries(ev.Series)...)
	}
	immutable := []struct {
		path     string
		new, old interface{}
	}{
		{"involvedObject", ev.Regarding, old.Regarding},
		{"reason", ev.Reason, old.Reason},
		{"message", ev.Note, old.Note},
		{"source", ev.DeprecatedSource, old.DeprecatedSource},
		{"firstTimestamp", ev.DeprecatedFirstTimestamp, old.DeprecatedFirstTimestamp},
		{"lastTimestamp", ev.DeprecatedLastTimestamp, old.DeprecatedLastTimestamp},
		{"count", ev.DeprecatedCount, old.DeprecatedCount},
		{"type", ev.Type, old.Type},
		{"eventTime", ev.EventTime, old.EventTime},
		{"action", ev.Action, old.Action},
		{"related", ev.Related, old.Related},
		{"reportingController", ev.ReportingController, old.ReportingController},
		{"reportingInstance", ev.ReportingInstance, old.ReportingInstance},
	}
	for _, f := range immutable {
		errs = append(errs, apivalidation.ValidateImmutableField(f.new, f.old, field.NewPath(f.path))...)
	}
	return errs
}

func seriesEqual(a, b *eventsv1.EventSeries) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Count == b.Count && a.LastObservedTime.Equal(&b.LastObservedTime)
}

// validateEventCommon is Kubernetes' check of every event write: an event
// with an eventTime needs its reporting fields, action and reason.
func validateEventCommon(ev *eventsv1.Event) field.ErrorList {
	var errs field.ErrorList
	namespacePath := field.NewPath("involvedObject", "namespace")
	if ev.EventTime.IsZero() {
		if ev.Regarding.Namespace == "" {
			if ev.Namespace != metav1.NamespaceNone && ev.Namespace != metav1.NamespaceDefault {
				errs = append(errs, field.Invalid(namespacePath, ev.Regarding.Namespace, "does not match event.namespace"))
			}
		} else if ev.Namespace != ev.Regarding.Namespace {
			errs = append(errs, field.Invalid(namespacePath, ev.Regarding.Namespace, "does not match event.namespace"))
		}
		return errs
	}
	if ev.Regarding.Namespace == "" && ev.Namespace != metav1.NamespaceDefault && ev.Namespace != metav1.NamespaceSystem {
		errs = append(errs, field.Invalid(namespacePath, ev.Regarding.Namespace, "does not match event.namespace"))
	}
	controllerPath := field.NewPath("reportingController")
	if ev.ReportingController == "" {
		errs = append(errs, field.Required(controllerPath, ""))
	}
	for _, msg := range content.IsLabelKey(ev.ReportingController) {
		errs = append(errs, field.Invalid(controllerPath, ev.ReportingController, msg))
	}
	errs = append(errs, requiredWithLimit("reportingInstance", ev.ReportingInstance, reportingInstanceLengthLimit)...)
	errs = append(errs, requiredWithLimit("action", ev.Action, actionLengthLimit)...)
	errs = append(errs, requiredWithLimit("reason", ev.Reason, reasonLengthLimit)...)
	if len(ev.Note) > noteLengthLimit {
		errs = append(errs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", noteLengthLimit)))
	}
	return errs
}

func requiredWithLimit(name, value string, limit int) field.ErrorList {
	var errs field.ErrorList
	if value == "" {
		errs = append(errs, field.Required(field.NewPath(name), ""))
	}
	if len(value) > limit {
		errs = append(errs, field.Invalid(field.NewPath(name), "", fmt.Sprintf("can have at most %v characters", limit)))
	}
	return errs
}

func validateSeries(s *eventsv1.EventSeries) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	if s.Count < 2 {
		errs = append(errs, field.Invalid(field.NewPath("series.count"), "", "should be at least 2"))
	}
	if s.LastObservedTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("series.lastObservedTime"), ""))
	}
	return errs
}

// selectableFields are the field selectors Kubernetes supports on events,
// under their events.k8s.io names and, for clients that send the core/v1
// names, under those too.
func selectableFields(obj runtime.Object) fields.Set {
	ev := obj.(*eventsv1.Event)
	source := ev.DeprecatedSource.Component
	if source == "" {
		source = ev.ReportingController
	}
	r := ev.Regarding
	set := fields.Set{
		"reason":              ev.Reason,
		"type":                ev.Type,
		"reportingController": ev.ReportingController,
		"reportingComponent":  ev.ReportingController,
		"source":              source,
	}
	for name, v := range map[string]string{
		"kind":            r.Kind,
		"namespace":       r.Namespace,
		"name":            r.Name,
		"uid":             string(r.UID),
		"apiVersion":      r.APIVersion,
		"resourceVersion": r.ResourceVersion,
		"fieldPath":       r.FieldPath,
	} {
		set["regarding."+name] = v
		set["involvedObject."+name] = v
	}
	return set
}

// eventColumns are kubectl's event columns after the name. Kubernetes prints
// the name last (-o wide) rather than first; the store puts it first.
var eventColumns = []metav1.TableColumnDefinition{
	{Name: "Last Seen", Type: "string", Description: corev1.Event{}.SwaggerDoc()["lastTimestamp"]},
	{Name: "Type", Type: "string", Description: corev1.Event{}.SwaggerDoc()["type"]},
	{Name: "Reason", Type: "string", Description: corev1.Event{}.SwaggerDoc()["reason"]},
	{Name: "Object", Type: "string", Description: corev1.Event{}.SwaggerDoc()["involvedObject"]},
	{Name: "Subobject", Type: "string", Priority: 1, Description: corev1.Event{}.InvolvedObject.SwaggerDoc()["fieldPath"]},
	{Name: "Source", Type: "string", Priority: 1, Description: corev1.Event{}.SwaggerDoc()["source"]},
	{Name: "Message", Type: "string", Description: corev1.Event{}.SwaggerDoc()["message"]},
	{Name: "First Seen", Type: "string", Priority: 1, Description: corev1.Event{}.SwaggerDoc()["firstTimestamp"]},
	{Name: "Count", Type: "string", Priority: 1, Description: corev1.Event{}.SwaggerDoc()["count"]},
}

// eventRow renders the event as kubectl prints events: times fall back from
// the deprecated timestamps to eventTime and the series, a singleton counts 1.
func eventRow(obj runtime.Object) ([]interface{}, error) {
	ev, ok := obj.(*eventsv1.Event)
	if !ok {
		return nil, fmt.Errorf("table row: unexpected type %T", obj)
	}
	firstSeen := store.Age(ev.DeprecatedFirstTimestamp)
	if ev.DeprecatedFirstTimestamp.IsZero() {
		firstSeen = microAge(ev.EventTime)
	}
	lastSeen := store.Age(ev.DeprecatedLastTimestamp)
	if ev.DeprecatedLastTimestamp.IsZero() {
		lastSeen = firstSeen
	}
	count := ev.DeprecatedCount
	if ev.Series != nil {
		lastSeen = microAge(ev.Series.LastObservedTime)
		count = ev.Series.Count
	} else if count == 0 {
		count = 1
	}
	object := strings.ToLower(ev.Regarding.Kind)
	if ev.Regarding.Name != "" {
		object += "/" + ev.Regarding.Name
	}
	return []interface{}{
		lastSeen,
		ev.Type,
		ev.Reason,
		object,
		ev.Regarding.FieldPath,
		formatSource(firstNonEmpty(ev.DeprecatedSource.Component, ev.ReportingController), firstNonEmpty(ev.DeprecatedSource.Host, ev.ReportingInstance)),
		strings.TrimSpace(ev.Note),
		firstSeen,
		int64(count),
	}, nil
}

func microAge(t metav1.MicroTime) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

func formatSource(component, instance string) string {
	if instance == "" {
		return component
	}
	return component + ", " + instance
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
