//go:build integration

package events_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"k8s.io/kubectl/pkg/cmd/get"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"skiff.dev/skiff/internal/server/api"
	"skiff.dev/skiff/internal/testserver"
)

const ns = "default"

// watchBoth watches events through both APIs from the current
// resourceVersion.
func watchBoth(ctx context.Context, t *testing.T, s *testserver.Server) (core, ev watch.Interface) {
	t.Helper()
	list, err := s.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts := metav1.ListOptions{ResourceVersion: list.ResourceVersion}
	if core, err = s.Client.CoreV1().Events(ns).Watch(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if ev, err = s.Client.EventsV1().Events(ns).Watch(ctx, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Stop(); ev.Stop() })
	return core, ev
}

// next returns the next watch event, failing the test after 10 s.
func next(t *testing.T, w watch.Interface, via string) watch.Event {
	t.Helper()
	select {
	case e, ok := <-w.ResultChan():
		if !ok {
			t.Fatalf("%s watch closed", via)
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s watch event after 10 s", via)
	}
	return watch.Event{}
}

func expectWatch[T runtime.Object](t *testing.T, w watch.Interface, via string, typ watch.EventType, name, rv string) T {
	t.Helper()
	e := next(t, w, via)
	obj, ok := e.Object.(T)
	if e.Type != typ || !ok {
		t.Fatalf("%s watch: %s %T, want %s of %s", via, e.Type, e.Object, typ, name)
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	if m.GetName() != name || (rv != "" && m.GetResourceVersion() != rv) {
		t.Fatalf("%s watch: %s of %s at %s, want %s at %s", via, typ, m.GetName(), m.GetResourceVersion(), name, rv)
	}
	return obj
}

// TestOneEventTwoAPIs: an Event written through events.k8s.io/v1 is the
// core/v1 Event of the same name, fields mapped as Kubernetes maps them,
// and the other way round; both APIs watch, select, update and delete the
// one stored object.
func TestOneEventTwoAPIs(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	coreEvents, newEvents := s.Client.CoreV1().Events(ns), s.Client.EventsV1().Events(ns)
	coreWatch, eventsWatch := watchBoth(ctx, t, s)

	eventTime := metav1.NewMicroTime(time.Now().Truncate(time.Microsecond))
	regarding := corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "model-0", APIVersion: "v1", UID: "uid-0"}
	related := &corev1.ObjectReference{Kind: "Node", Name: "node-1", APIVersion: "v1"}
	created, err := newEvents.Create(ctx, &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "model-0.17a2b3c4d5e6f7a8"},
		EventTime:           eventTime,
		Series:              &eventsv1.EventSeries{Count: 2, LastObservedTime: eventTime},
		ReportingController: "skiff.dev/scheduler",
		ReportingInstance:   "scheduler-1",
		Action:              "Binding",
		Reason:              "Scheduled",
		Regarding:           regarding,
		Related:             related,
		Note:                "Successfully assigned default/model-0 to node-1",
		Type:                corev1.EventTypeNormal,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	core, err := coreEvents.Get(ctx, created.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("events.k8s.io event through core/v1: %v", err)
	}
	if core.ResourceVersion != created.ResourceVersion || core.UID != created.UID ||
		core.InvolvedObject != regarding || core.Message != created.Note || core.Reason != "Scheduled" ||
		core.Type != "Normal" || !core.EventTime.Equal(&eventTime) || core.Action != "Binding" ||
		core.ReportingController != "skiff.dev/scheduler" || core.ReportingInstance != "scheduler-1" ||
		core.Related == nil || *core.Related != *related || core.Series == nil || core.Series.Count != 2 ||
		core.Count != 0 || !core.FirstTimestamp.IsZero() || core.Source != (corev1.EventSource{}) {
		t.Errorf("through core/v1: %+v", core)
	}
	expectWatch[*corev1.Event](t, coreWatch, "core/v1", watch.Added, created.Name, created.ResourceVersion)
	expectWatch[*eventsv1.Event](t, eventsWatch, "events.k8s.io/v1", watch.Added, created.Name, created.ResourceVersion)

	// Written through core/v1 as client-go's record package does.
	seen := metav1.NewTime(time.Now().Truncate(time.Second))
	legacy, err := coreEvents.Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "model-0.17a2b3c4d5e6f7b9"},
		InvolvedObject: regarding,
		Reason:         "Pulled", Message: "Container image pulled", Type: corev1.EventTypeNormal,
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: seen, LastTimestamp: seen, Count: 3,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := newEvents.Get(ctx, legacy.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("core/v1 event through events.k8s.io: %v", err)
	}
	if ev.ResourceVersion != legacy.ResourceVersion || ev.Regarding != regarding || ev.Note != "Container image pulled" ||
		ev.DeprecatedSource != legacy.Source || !ev.DeprecatedFirstTimestamp.Equal(&seen) ||
		!ev.DeprecatedLastTimestamp.Equal(&seen) || ev.DeprecatedCount != 3 || !ev.EventTime.IsZero() {
		t.Errorf("through events.k8s.io/v1: %+v", ev)
	}
	expectWatch[*corev1.Event](t, coreWatch, "core/v1", watch.Added, legacy.Name, legacy.ResourceVersion)
	expectWatch[*eventsv1.Event](t, eventsWatch, "events.k8s.io/v1", watch.Added, legacy.Name, legacy.ResourceVersion)

	// Lists and field selectors, under each API's names.
	for _, tc := range []struct {
		api, selector string
		list          func(metav1.ListOptions) ([]string, error)
		want          []string
	}{
		{"core/v1", "involvedObject.name=model-0,reason=Pulled", coreNames(ctx, s), []string{legacy.Name}},
		{"core/v1", "reportingComponent=skiff.dev/scheduler", coreNames(ctx, s), []string{created.Name}},
		{"core/v1", "source=kubelet", coreNames(ctx, s), []string{legacy.Name}},
		{"core/v1", "", coreNames(ctx, s), []string{created.Name, legacy.Name}},
		{"events.k8s.io/v1", "regarding.name=model-0,reason=Scheduled", eventNames(ctx, s), []string{created.Name}},
		{"events.k8s.io/v1", "reportingController=skiff.dev/scheduler", eventNames(ctx, s), []string{created.Name}},
		{"events.k8s.io/v1", "regarding.uid=uid-0,type=Normal", eventNames(ctx, s), []string{created.Name, legacy.Name}},
		{"events.k8s.io/v1", "", eventNames(ctx, s), []string{created.Name, legacy.Name}},
	} {
		got, err := tc.list(metav1.ListOptions{FieldSelector: tc.selector})
		if err != nil || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s list %q: %v %v, want %v", tc.api, tc.selector, got, err, tc.want)
		}
	}
	// Kubernetes takes only the events.k8s.io names at events.k8s.io/v1.
	if _, err := newEvents.List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=model-0"}); !apierrors.IsBadRequest(err) ||
		!strings.Contains(err.Error(), "field label not supported: involvedObject.name") {
		t.Errorf("core field name at events.k8s.io/v1: %v", err)
	}

	// One resourceVersion: a core/v1 update moves the events.k8s.io one.
	core.Series = &corev1.EventSeries{Count: 3, LastObservedTime: metav1.NewMicroTime(time.Now().Truncate(time.Microsecond))}
	updated, err := coreEvents.Update(ctx, core, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expectWatch[*corev1.Event](t, coreWatch, "core/v1", watch.Modified, created.Name, updated.ResourceVersion)
	if got := expectWatch[*eventsv1.Event](t, eventsWatch, "events.k8s.io/v1", watch.Modified, created.Name, updated.ResourceVersion); got.Series == nil || got.Series.Count != 3 {
		t.Errorf("series through events.k8s.io/v1 after a core/v1 update: %+v", got.Series)
	}
	stale := created.DeepCopy()
	stale.Series.Count = 4
	if _, err := newEvents.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("events.k8s.io/v1 update at the resourceVersion before the core/v1 update: %v", err)
	}

	// Each API validates its writes by its own rules: events.k8s.io wants
	// the reporting fields, core/v1 takes the legacy shape.
	noController := created.DeepCopy()
	noController.ObjectMeta = metav1.ObjectMeta{Name: "model-0.17a2b3c4d5e6f7c0"}
	noController.ReportingController = ""
	noController.Series = nil
	if _, err := newEvents.Create(ctx, noController, metav1.CreateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "reportingController: Required value") {
		t.Errorf("events.k8s.io/v1 event without reportingController: %v", err)
	}
	if _, err := newEvents.Create(ctx, &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}, Regarding: regarding,
		Reason: "Pulled", Note: "x", Type: "Normal", DeprecatedCount: 1}, metav1.CreateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "eventTime: Required value") || !strings.Contains(err.Error(), `count: Invalid value: "": needs to be unset`) {
		t.Errorf("legacy-shaped event through events.k8s.io/v1: %v", err)
	}
	if _, err := coreEvents.Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "Pod_0.17a"}, InvolvedObject: regarding,
		Reason: "Pulled", Message: "x", Type: "Normal"}, metav1.CreateOptions{}); err != nil {
		t.Errorf("core/v1 event with a legacy name: %v", err)
	}
	if _, err := newEvents.Get(ctx, "Pod_0.17a", metav1.GetOptions{}); err != nil {
		t.Errorf("core/v1 event with a legacy name through events.k8s.io/v1: %v", err)
	}

	// Deleting through one API deletes from the other.
	if err := newEvents.Delete(ctx, legacy.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := coreEvents.Get(ctx, legacy.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("core/v1 get after an events.k8s.io/v1 delete: %v", err)
	}
	if err := coreEvents.Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := newEvents.Get(ctx, created.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("events.k8s.io/v1 get after a core/v1 delete: %v", err)
	}
	for _, name := range []string{"Pod_0.17a", legacy.Name, created.Name} {
		if name == "Pod_0.17a" {
			expectWatch[*corev1.Event](t, coreWatch, "core/v1", watch.Added, name, "")
			expectWatch[*eventsv1.Event](t, eventsWatch, "events.k8s.io/v1", watch.Added, name, "")
			continue
		}
		expectWatch[*corev1.Event](t, coreWatch, "core/v1", watch.Deleted, name, "")
		expectWatch[*eventsv1.Event](t, eventsWatch, "events.k8s.io/v1", watch.Deleted, name, "")
	}
}

func coreNames(ctx context.Context, s *testserver.Server) func(metav1.ListOptions) ([]string, error) {
	return func(opts metav1.ListOptions) ([]string, error) {
		l, err := s.Client.CoreV1().Events(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range l.Items {
			names = append(names, e.Name)
		}
		return names, nil
	}
}

func eventNames(ctx context.Context, s *testserver.Server) func(metav1.ListOptions) ([]string, error) {
	return func(opts metav1.ListOptions) ([]string, error) {
		l, err := s.Client.EventsV1().Events(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range l.Items {
			names = append(names, e.Name)
		}
		return names, nil
	}
}

// TestKubectlGetEventsShowsRecorderEvents: events written by client-go's
// events recorder (events.k8s.io/v1, a series by strategic merge patch)
// are what `kubectl get events` lists.
func TestKubectlGetEventsShowsRecorderEvents(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pod, err := s.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "model-0"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "server", Image: "model-server:v1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: s.Client.EventsV1()})
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, "skiff-test-controller")
	recorder.Eventf(pod, nil, corev1.EventTypeWarning, "FailedMount", "Mounting", "MountVolume.SetUp failed for volume %q", "model-cache")

	// The recorder writes asynchronously; a second identical event makes
	// it a series once the first is stored.
	testserver.Poll(t, 10*time.Second, "the recorder's event through core/v1", func() error {
		l, err := s.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=model-0"})
		if err != nil {
			return err
		}
		if len(l.Items) != 1 {
			return fmt.Errorf("%d events", len(l.Items))
		}
		return nil
	})
	recorder.Eventf(pod, nil, corev1.EventTypeWarning, "FailedMount", "Mounting", "MountVolume.SetUp failed for volume %q", "model-cache")
	testserver.Poll(t, 10*time.Second, "a series of 2", func() error {
		l, err := s.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=model-0"})
		if err != nil {
			return err
		}
		if len(l.Items) != 1 || l.Items[0].Series == nil || l.Items[0].Series.Count != 2 {
			return fmt.Errorf("events %+v", l.Items)
		}
		return nil
	})

	out := kubectl(t, s, "get", "events", "-o", "wide")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "LAST SEEN") || !strings.Contains(lines[0], "COUNT") {
		t.Fatalf("kubectl get events -o wide:\n%s", out)
	}
	for _, want := range []string{"Warning", "FailedMount", "pod/model-0", "skiff-test-controller", `MountVolume.SetUp failed for volume "model-cache"`} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("kubectl get events -o wide: no %q in\n%s", want, out)
		}
	}
	if fields := strings.Fields(lines[1]); fields[len(fields)-1] != "2" {
		t.Errorf("COUNT is not 2:\n%s", out)
	}
}

// kubectl runs kubectl's get command in the test process against s, in
// namespace ns, and returns what it printed.
func kubectl(t *testing.T, s *testserver.Server, args ...string) string {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(true)
	kubeconfig, namespace, cacheDir := api.KubeconfigPath(s.DataDir), ns, t.TempDir()
	flags.KubeConfig, flags.Namespace, flags.CacheDir = &kubeconfig, &namespace, &cacheDir
	var out, errOut bytes.Buffer
	cmdutil.BehaviorOnFatal(func(msg string, code int) { t.Fatalf("kubectl %v: exit %d: %s", args, code, msg) })
	defer cmdutil.DefaultBehaviorOnFatal()
	cmd := get.NewCmdGet("kubectl", cmdutil.NewFactory(flags), genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args[1:])
	if err := cmd.Execute(); err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}
