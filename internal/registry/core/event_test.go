package core

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
)

// through is the context of a request through an API group version.
func through(group, version string) context.Context {
	return genericapirequest.WithRequestInfo(context.Background(),
		&genericapirequest.RequestInfo{IsResourceRequest: true, APIGroup: group, APIVersion: version, Resource: "events"})
}

// recordedEvent is what client-go's events recorder writes (events.k8s.io
// shape, stored as core/v1).
func recordedEvent() *corev1.Event {
	return &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "ml-model-7d9f8b6c5-x2k4p.17a2b3c4d5e6f7a8", Namespace: "production"},
		EventTime:           metav1.NewMicroTime(time.Now()),
		ReportingController: "default-scheduler",
		ReportingInstance:   "default-scheduler-skiff-server-1",
		Action:              "Binding",
		Reason:              "Scheduled",
		InvolvedObject:      corev1.ObjectReference{Kind: "Pod", Namespace: "production", Name: "ml-model-7d9f8b6c5-x2k4p", APIVersion: "v1"},
		Message:             "Successfully assigned production/ml-model-7d9f8b6c5-x2k4p to node-1",
		Type:                corev1.EventTypeNormal,
	}
}

// legacyEvent is what client-go's record package (core/v1) writes.
func legacyEvent() *corev1.Event {
	seen := metav1.NewTime(time.Now())
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "model-0.17a2b3c4d5e6f7", Namespace: "production"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "model-0", Namespace: "production"},
		Reason:         "Pulled", Message: "Container image pulled", Type: corev1.EventTypeNormal,
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: seen, LastTimestamp: seen, Count: 1,
	}
}

func TestEventValidationPerAPI(t *testing.T) {
	k := kindOf(t, "events")
	core, events := through("", "v1"), through("events.k8s.io", "v1")
	tests := []struct {
		name       string
		ctx        context.Context
		event      func() *corev1.Event
		want       []string
		wantUpdate []string // for the event updated from legacyEvent when set
	}{
		{name: "recorder event through events.k8s.io", ctx: events, event: recordedEvent},
		{name: "recorder event through core", ctx: core, event: recordedEvent},
		{name: "legacy event through core", ctx: core, event: legacyEvent},
		{name: "no request information: core rules", ctx: context.Background(), event: legacyEvent},
		{
			name: "legacy event through events.k8s.io", ctx: events, event: legacyEvent,
			want: []string{
				"eventTime: Required value",
				`firstTimestamp: Invalid value: "": needs to be unset`,
				`lastTimestamp: Invalid value: "": needs to be unset`,
				`count: Invalid value: "": needs to be unset`,
				`source: Invalid value: "": needs to be unset`,
			},
		},
		{
			name: "reporting controller missing through events.k8s.io", ctx: events,
			event: func() *corev1.Event { e := recordedEvent(); e.ReportingController = ""; return e },
			want: []string{"reportingController: Required value", `reportingController: Invalid value: "": name part must be non-empty`,
				`reportingController: Invalid value: "": name part must consist of alphanumeric characters`},
		},
		{
			name: "reporting controller missing through core", ctx: core,
			event: func() *corev1.Event { e := recordedEvent(); e.ReportingController = ""; return e },
			want: []string{"reportingComponent: Required value", `reportingComponent: Invalid value: "": name part must be non-empty`,
				`reportingComponent: Invalid value: "": name part must consist of alphanumeric characters`},
		},
		{
			name: "series of one through events.k8s.io", ctx: events,
			event: func() *corev1.Event {
				e := recordedEvent()
				e.Series = &corev1.EventSeries{Count: 1, LastObservedTime: e.EventTime}
				return e
			},
			want: []string{`series.count: Invalid value: "": should be at least 2`},
		},
		{
			name: "note too long through core", ctx: core,
			event: func() *corev1.Event { e := recordedEvent(); e.Message = strings.Repeat("x", 1025); return e },
			want:  []string{`message: Invalid value: "": can have at most 1024 characters`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorStrings(k.Validate(tt.ctx, tt.event()))
			if !equalPrefixes(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}

	t.Run("update: events.k8s.io keeps the note, core does not", func(t *testing.T) {
		old := recordedEvent()
		ev := old.DeepCopy()
		ev.Series = &corev1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(time.Now())}
		if errs := k.ValidateUpdate(events, ev, old); len(errs) != 0 {
			t.Errorf("series update refused: %v", errs)
		}
		ev.Message = "changed"
		if got := errorStrings(k.ValidateUpdate(events, ev, old)); !equalPrefixes(got, []string{`message: Invalid value: "changed": field is immutable`}) {
			t.Errorf("note changed through events.k8s.io: %q", got)
		}
		if errs := k.ValidateUpdate(core, ev, old); len(errs) != 0 {
			t.Errorf("message changed through core: %v", errs)
		}
	})

	t.Run("names", func(t *testing.T) {
		for _, tc := range []struct {
			api   string
			ctx   context.Context
			name  string
			valid bool
		}{
			{"events.k8s.io", events, "ml-model-7d9f8b6c5-x2k4p.17a2b3c4d5e6f7a8", true},
			{"events.k8s.io", events, "Pod_1.17a2b3c4", false},
			{"core", core, "Pod_1.17a2b3c4", true},
			{"core", core, "pod.17a2b3c4d5e6f7", true},
		} {
			msgs := k.RequestNameValidation(tc.ctx)(tc.name, false)
			if (len(msgs) == 0) != tc.valid {
				t.Errorf("name %q through %s: %v", tc.name, tc.api, msgs)
			}
		}
	})
}

// equalPrefixes reports whether got holds one error per wanted line, each
// starting with it.
func equalPrefixes(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			return false
		}
	}
	return true
}
