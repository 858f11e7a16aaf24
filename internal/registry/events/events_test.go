package events

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// seedEvent is what client-go's events recorder writes for a scheduled pod.
func seedEvent() *eventsv1.Event {
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "ml-model-7d9f8b6c5-x2k4p.17a2b3c4d5e6f7a8", Namespace: "production"},
		EventTime:           metav1.NewMicroTime(time.Now().Add(-2 * time.Minute)),
		ReportingController: "default-scheduler",
		ReportingInstance:   "default-scheduler-skiff-server-1",
		Action:              "Binding",
		Reason:              "Scheduled",
		Regarding:           corev1.ObjectReference{Kind: "Pod", Namespace: "production", Name: "ml-model-7d9f8b6c5-x2k4p", APIVersion: "v1"},
		Note:                "Successfully assigned production/ml-model-7d9f8b6c5-x2k4p to node-1 ",
		Type:                corev1.EventTypeNormal,
	}
}

func TestNameValidation(t *testing.T) {
	kind := Kinds()[0]
	for _, name := range []string{"pod.17a2b3c4d5e6f7", "ml-model-7d9f8b6c5-x2k4p.17a2b3c4d5e6f7a8", "node-1.17a2b3c4d5e6f7a8"} {
		if msgs := kind.NameValidation(name, false); len(msgs) != 0 {
			t.Errorf("name %q rejected: %v", name, msgs)
		}
	}
	if msgs := kind.NameValidation("Pod_1.17a", false); len(msgs) == 0 {
		t.Error("name with upper case and underscore accepted")
	}
}

func TestValidate(t *testing.T) {
	kind := Kinds()[0]
	tests := []struct {
		name   string
		mutate func(*eventsv1.Event)
		want   []string
	}{
		{name: "seed event", mutate: func(*eventsv1.Event) {}},
		{
			name: "eventTime missing",
			mutate: func(e *eventsv1.Event) {
				e.EventTime = metav1.MicroTime{}
			},
			want: []string{"eventTime: Required value"},
		},
		{
			name: "reporting fields, action and reason missing",
			mutate: func(e *eventsv1.Event) {
				e.ReportingController, e.ReportingInstance, e.Action, e.Reason = "", "", "", ""
			},
			want: []string{
				"reportingController: Required value",
				`reportingController: Invalid value: "": name part must be non-empty`,
				`reportingController: Invalid value: "": name part must consist of alphanumeric characters`,
				"reportingInstance: Required value",
				"action: Required value",
				"reason: Required value",
			},
		},
		{
			name:   "type unknown",
			mutate: func(e *eventsv1.Event) { e.Type = "Info" },
			want:   []string{`type: Invalid value: "": has invalid value: Info`},
		},
		{
			name:   "type missing",
			mutate: func(e *eventsv1.Event) { e.Type = "" },
			want:   []string{`type: Invalid value: "": has invalid value: `},
		},
		{
			name:   "note too long",
			mutate: func(e *eventsv1.Event) { e.Note = strings.Repeat("x", 1025) },
			want:   []string{`message: Invalid value: "": can have at most 1024 characters`},
		},
		{
			name:   "regarding in another namespace is allowed",
			mutate: func(e *eventsv1.Event) { e.Regarding.Namespace = "default" },
		},
		{
			name: "cluster-scoped object outside default",
			mutate: func(e *eventsv1.Event) {
				e.Regarding = corev1.ObjectReference{Kind: "Node", Name: "node-1"}
			},
			want: []string{`involvedObject.namespace: Invalid value: "": does not match event.namespace`},
		},
		{
			name: "series",
			mutate: func(e *eventsv1.Event) {
				e.Series = &eventsv1.EventSeries{Count: 1}
			},
			want: []string{`series.count: Invalid value: "": should be at least 2`, "series.lastObservedTime: Required value"},
		},
		{
			name: "deprecated fields set",
			mutate: func(e *eventsv1.Event) {
				e.DeprecatedCount = 3
				e.DeprecatedSource = corev1.EventSource{Component: "kubelet"}
			},
			want: []string{
				`deprecatedCount: Invalid value: "": needs to be unset`,
				`deprecatedSource: Invalid value: "": needs to be unset`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := seedEvent()
			tt.mutate(ev)
			assertErrorPrefixes(t, errorStrings(kind.Validate(context.Background(), ev)), tt.want)
		})
	}

	t.Run("update: series may change, the note may not", func(t *testing.T) {
		old := seedEvent()
		ev := old.DeepCopy()
		ev.Series = &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(time.Now())}
		assertErrorPrefixes(t, errorStrings(kind.ValidateUpdate(context.Background(), ev, old)), nil)
		ev.Note = "changed"
		assertErrorPrefixes(t, errorStrings(kind.ValidateUpdate(context.Background(), ev, old)), []string{`message: Invalid value: "changed": field is immutable`})
	})
}

func TestSelectableFields(t *testing.T) {
	kind := Kinds()[0]
	set := kind.SelectableFields(seedEvent())
	for _, sel := range []string{
		"regarding.kind=Pod,regarding.name=ml-model-7d9f8b6c5-x2k4p",
		"involvedObject.kind=Pod,involvedObject.namespace=production",
		"reason=Scheduled,type=Normal",
		"reportingController=default-scheduler",
		"source=default-scheduler",
	} {
		s, err := fields.ParseSelector(sel)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Matches(set) {
			t.Errorf("selector %q does not match %v", sel, set)
		}
	}
	if s := fields.OneTermEqualSelector("type", "Warning"); s.Matches(set) {
		t.Error("type=Warning matches a Normal event")
	}
}

func TestTable(t *testing.T) {
	kind := Kinds()[0]
	var cols, wide []string
	for _, c := range kind.Columns {
		wide = append(wide, strings.ToUpper(c.Name))
		if c.Priority == 0 {
			cols = append(cols, strings.ToUpper(c.Name))
		}
	}
	if got, want := strings.Join(cols, " "), "LAST SEEN TYPE REASON OBJECT MESSAGE"; got != want {
		t.Errorf("columns = %q, want %q", got, want)
	}
	if got, want := strings.Join(wide, " "), "LAST SEEN TYPE REASON OBJECT SUBOBJECT SOURCE MESSAGE FIRST SEEN COUNT"; got != want {
		t.Errorf("wide columns = %q, want %q", got, want)
	}

	tests := []struct {
		name   string
		mutate func(*eventsv1.Event)
		want   []interface{}
	}{
		{
			name:   "singleton",
			mutate: func(*eventsv1.Event) {},
			want: []interface{}{"2m", "Normal", "Scheduled", "pod/ml-model-7d9f8b6c5-x2k4p", "",
				"default-scheduler, default-scheduler-skiff-server-1",
				"Successfully assigned production/ml-model-7d9f8b6c5-x2k4p to node-1", "2m", int64(1)},
		},
		{
			name: "series",
			mutate: func(e *eventsv1.Event) {
				e.Type = corev1.EventTypeWarning
				e.Reason = "BackOff"
				e.Regarding.FieldPath = "spec.containers{server}"
				e.Series = &eventsv1.EventSeries{Count: 7, LastObservedTime: metav1.NewMicroTime(time.Now().Add(-10 * time.Second))}
			},
			want: []interface{}{"10s", "Warning", "BackOff", "pod/ml-model-7d9f8b6c5-x2k4p", "spec.containers{server}",
				"default-scheduler, default-scheduler-skiff-server-1",
				"Successfully assigned production/ml-model-7d9f8b6c5-x2k4p to node-1", "2m", int64(7)},
		},
		{
			name: "deprecated fields from an old writer",
			mutate: func(e *eventsv1.Event) {
				e.EventTime = metav1.MicroTime{}
				e.DeprecatedFirstTimestamp = metav1.NewTime(time.Now().Add(-3 * time.Hour))
				e.DeprecatedLastTimestamp = metav1.NewTime(time.Now().Add(-5 * time.Minute))
				e.DeprecatedCount = 4
				e.DeprecatedSource = corev1.EventSource{Component: "kubelet", Host: "node-1"}
				e.Regarding = corev1.ObjectReference{Kind: "Node"}
			},
			want: []interface{}{"5m", "Normal", "Scheduled", "node", "", "kubelet, node-1",
				"Successfully assigned production/ml-model-7d9f8b6c5-x2k4p to node-1", "3h", int64(4)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := seedEvent()
			tt.mutate(ev)
			got, err := kind.Row(ev)
			if err != nil {
				t.Fatal(err)
			}
			if !apiequality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("row = %#v\nwant  %#v", got, tt.want)
			}
		})
	}
}

func errorStrings[T interface{ Error() string }](errs []T) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// assertErrorPrefixes checks that got holds one error per wanted line, each
// starting with it.
func assertErrorPrefixes(t *testing.T, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("errors:\n got %q\nwant prefixes %q", got, want)
	}
}
