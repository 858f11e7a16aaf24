package events

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	eventTime = metav1.NewMicroTime(time.Date(2026, 12, 8, 1, 2, 3, 456000, time.UTC))
	seen      = metav1.NewTime(time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC))
)

// recorded is what client-go's events recorder writes for a scheduled pod,
// with a series, and both shapes of it.
func recorded() (*eventsv1.Event, *corev1.Event) {
	meta := metav1.ObjectMeta{Name: "ml-model-7d9f8b6c5-x2k4p.17a2b3c4d5e6f7a8", Namespace: "production", ResourceVersion: "42"}
	regarding := corev1.ObjectReference{Kind: "Pod", Namespace: "production", Name: "ml-model-7d9f8b6c5-x2k4p", APIVersion: "v1", UID: "u-1"}
	related := &corev1.ObjectReference{Kind: "Node", Name: "node-1"}
	ev := &eventsv1.Event{
		ObjectMeta:               meta,
		EventTime:                eventTime,
		Series:                   &eventsv1.EventSeries{Count: 3, LastObservedTime: eventTime},
		ReportingController:      "default-scheduler",
		ReportingInstance:        "default-scheduler-skiff-server-1",
		Action:                   "Binding",
		Reason:                   "Scheduled",
		Regarding:                regarding,
		Related:                  related,
		Note:                     "Successfully assigned production/ml-model-7d9f8b6c5-x2k4p to node-1",
		Type:                     corev1.EventTypeNormal,
		DeprecatedSource:         corev1.EventSource{Component: "scheduler", Host: "skiff-server-1"},
		DeprecatedFirstTimestamp: seen,
		DeprecatedLastTimestamp:  seen,
		DeprecatedCount:          2,
	}
	core := &corev1.Event{
		ObjectMeta:          meta,
		InvolvedObject:      regarding,
		Reason:              "Scheduled",
		Message:             "Successfully assigned production/ml-model-7d9f8b6c5-x2k4p to node-1",
		Source:              corev1.EventSource{Component: "scheduler", Host: "skiff-server-1"},
		FirstTimestamp:      seen,
		LastTimestamp:       seen,
		Count:               2,
		Type:                corev1.EventTypeNormal,
		EventTime:           eventTime,
		Series:              &corev1.EventSeries{Count: 3, LastObservedTime: eventTime},
		Action:              "Binding",
		Related:             related,
		ReportingController: "default-scheduler",
		ReportingInstance:   "default-scheduler-skiff-server-1",
	}
	return ev, core
}

func TestConversion(t *testing.T) {
	ev, core := recorded()
	var gotCore corev1.Event
	if err := ToCore(ev, &gotCore); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(core, &gotCore); diff != "" {
		t.Errorf("events.k8s.io/v1 -> core/v1 (-want +got):\n%s", diff)
	}
	var gotEvent eventsv1.Event
	if err := FromCore(core, &gotEvent); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, &gotEvent); diff != "" {
		t.Errorf("core/v1 -> events.k8s.io/v1 (-want +got):\n%s", diff)
	}
}

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, eventsv1.AddToScheme, Install} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return scheme
}

// TestInstall checks what the API server relies on: a request's
// events.k8s.io/v1 Event decodes into the stored core/v1 type, and stored
// events and lists encode back.
func TestInstall(t *testing.T) {
	scheme := newScheme(t)
	ev, core := recorded()
	hub := schema.GroupVersion{Group: GroupName, Version: runtime.APIVersionInternal}
	out, err := scheme.ConvertToVersion(ev, hub)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := out.(*corev1.Event)
	if !ok {
		t.Fatalf("events.k8s.io internal object is %T, want *v1.Event", out)
	}
	if diff := cmp.Diff(core, got); diff != "" {
		t.Errorf("to the internal version (-want +got):\n%s", diff)
	}

	list := &corev1.EventList{ListMeta: metav1.ListMeta{ResourceVersion: "43"}, Items: []corev1.Event{*core}}
	out, err = scheme.ConvertToVersion(list, eventsv1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	gotList, ok := out.(*eventsv1.EventList)
	if !ok {
		t.Fatalf("events.k8s.io/v1 list is %T", out)
	}
	if gotList.ResourceVersion != "43" || len(gotList.Items) != 1 || gotList.Items[0].Note != ev.Note || gotList.Items[0].Regarding != ev.Regarding {
		t.Errorf("list = %+v", gotList)
	}
	if gotList.APIVersion != "events.k8s.io/v1" || gotList.Kind != "EventList" {
		t.Errorf("list type = %s %s", gotList.APIVersion, gotList.Kind)
	}
}

func TestFieldLabels(t *testing.T) {
	scheme := newScheme(t)
	gvk := eventsv1.SchemeGroupVersion.WithKind("Event")
	for label, want := range map[string]string{
		"regarding.name":      "involvedObject.name",
		"regarding.kind":      "involvedObject.kind",
		"regarding.uid":       "involvedObject.uid",
		"reportingController": "reportingComponent",
		"reason":              "reason",
		"type":                "type",
		"metadata.name":       "metadata.name",
	} {
		got, value, err := scheme.ConvertFieldLabel(gvk, label, "x")
		if err != nil || got != want || value != "x" {
			t.Errorf("%s: got %q %q %v, want %q", label, got, value, err, want)
		}
	}
	// Kubernetes offers only the events.k8s.io names at events.k8s.io/v1.
	for _, label := range []string{"involvedObject.name", "source", "reportingComponent"} {
		if _, _, err := scheme.ConvertFieldLabel(gvk, label, "x"); err == nil || err.Error() != "field label not supported: "+label {
			t.Errorf("%s: err = %v", label, err)
		}
	}
}
