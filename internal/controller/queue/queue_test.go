package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
)

// recordingQueue is a real rate-limited queue that records the calls a
// worker makes after Get.
type recordingQueue struct {
	workqueue.TypedRateLimitingInterface[string]
	mu    sync.Mutex
	calls []string
}

func newRecordingQueue() *recordingQueue {
	return &recordingQueue{TypedRateLimitingInterface: workqueue.NewTypedRateLimitingQueue(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, time.Second))}
}

func (q *recordingQueue) record(call string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, call)
}

func (q *recordingQueue) recorded() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.calls)
}

func (q *recordingQueue) AddRateLimited(key string) {
	q.record("AddRateLimited " + key)
	q.TypedRateLimitingInterface.AddRateLimited(key)
}

func (q *recordingQueue) Forget(key string) {
	q.record("Forget " + key)
	q.TypedRateLimitingInterface.Forget(key)
}

func (q *recordingQueue) AddAfter(key string, d time.Duration) {
	q.record("AddAfter " + key + " " + d.String())
	q.TypedRateLimitingInterface.AddAfter(key, d)
}

func (q *recordingQueue) Done(key string) {
	q.record("Done " + key)
	q.TypedRateLimitingInterface.Done(key)
}

// recordingHandler records each log line as "LEVEL key err retry=…".
type recordingHandler struct {
	mu       sync.Mutex
	recorded []string
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler            { return h }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := map[string]string{}
	r.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recorded = append(h.recorded, fmt.Sprintf("%s %s %s retry=%s", r.Level, attrs["key"], attrs["err"], attrs["retry"]))
	return nil
}

func (h *recordingHandler) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.recorded)
}

var conflict = apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, "a", errors.New("the object has been modified"))

func TestProcessNext(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name string
		// earlier failures of the key before this sync
		failures int
		// stopping runs the sync with a cancelled context.
		stopping  bool
		sync      func(ctx context.Context, key string) error
		syncAfter func(ctx context.Context, key string) (time.Duration, error)
		calls     []string
		// logged is the failed sync's log line, "LEVEL key err retry=…".
		logged   string
		requeues int
	}{
		{
			name:  "success forgets",
			sync:  func(context.Context, string) error { return nil },
			calls: []string{"Forget ns/a", "Done ns/a"},
		},
		{
			name:     "success after failures forgets the back-off",
			failures: 2,
			sync:     func(context.Context, string) error { return nil },
			calls:    []string{"Forget ns/a", "Done ns/a"},
		},
		{
			name:     "error requeues with back-off",
			sync:     func(context.Context, string) error { return errBoom },
			calls:    []string{"AddRateLimited ns/a", "Done ns/a"},
			logged:   "WARN ns/a boom retry=true",
			requeues: 1,
		},
		{
			name:     "error after failures backs off further",
			failures: 2,
			sync:     func(context.Context, string) error { return errBoom },
			calls:    []string{"AddRateLimited ns/a", "Done ns/a"},
			logged:   "WARN ns/a boom retry=true",
			requeues: 3,
		},
		{
			name:      "requeue after",
			failures:  1,
			syncAfter: func(context.Context, string) (time.Duration, error) { return time.Minute, nil },
			calls:     []string{"Forget ns/a", "AddAfter ns/a 1m0s", "Done ns/a"},
		},
		{
			name:      "no requeue after",
			syncAfter: func(context.Context, string) (time.Duration, error) { return 0, nil },
			calls:     []string{"Forget ns/a", "Done ns/a"},
		},
		{
			name:      "error wins over requeue after",
			syncAfter: func(context.Context, string) (time.Duration, error) { return time.Minute, errBoom },
			calls:     []string{"AddRateLimited ns/a", "Done ns/a"},
			logged:    "WARN ns/a boom retry=true",
			requeues:  1,
		},
		{
			name:     "terminal error forgets without a retry",
			failures: 2,
			sync:     func(context.Context, string) error { return fmt.Errorf("wrapped: %w", Terminal(errBoom)) },
			calls:    []string{"Forget ns/a", "Done ns/a"},
			logged:   "ERROR ns/a wrapped: boom retry=false",
		},
		{
			name:     "conflict is an ordinary retry",
			sync:     func(context.Context, string) error { return conflict },
			calls:    []string{"AddRateLimited ns/a", "Done ns/a"},
			logged:   "DEBUG ns/a " + conflict.Error() + " retry=true",
			requeues: 1,
		},
		{
			name:     "wrapped conflict is an ordinary retry",
			sync:     func(context.Context, string) error { return fmt.Errorf("update: %w", conflict) },
			calls:    []string{"AddRateLimited ns/a", "Done ns/a"},
			logged:   "DEBUG ns/a update: " + conflict.Error() + " retry=true",
			requeues: 1,
		},
		{
			name:     "error while stopping",
			stopping: true,
			sync:     func(ctx context.Context, _ string) error { return ctx.Err() },
			calls:    []string{"AddRateLimited ns/a", "Done ns/a"},
			logged:   "DEBUG ns/a context canceled retry=true",
			requeues: 1,
		},
		{
			name:      "Retry is an ordinary retry",
			syncAfter: func(context.Context, string) (time.Duration, error) { return 0, Retry(errBoom) },
			calls:     []string{"AddRateLimited ns/a", "Done ns/a"},
			logged:    "DEBUG ns/a boom retry=true",
			requeues:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newRecordingQueue()
			defer q.ShutDown()
			for range tt.failures {
				q.TypedRateLimitingInterface.AddRateLimited("ns/a")
			}
			q.Add("ns/a")
			logs := &recordingHandler{}
			w := Worker[string]{Queue: q, Sync: tt.sync, SyncAfter: tt.syncAfter, Log: slog.New(logs)}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.stopping {
				cancel()
			}
			if !w.ProcessNext(ctx) {
				t.Fatal("ProcessNext returned false on a live queue")
			}
			if got := q.recorded(); !slices.Equal(got, tt.calls) {
				t.Errorf("calls = %q, want %q", got, tt.calls)
			}
			var want []string
			if tt.logged != "" {
				want = []string{tt.logged}
			}
			if got := logs.lines(); !slices.Equal(got, want) {
				t.Errorf("logged %q, want %q", got, want)
			}
			if got := q.NumRequeues("ns/a"); got != tt.requeues {
				t.Errorf("NumRequeues = %d, want %d", got, tt.requeues)
			}
		})
	}
}

func TestProcessNextShutDown(t *testing.T) {
	q := newRecordingQueue()
	q.ShutDown()
	w := Worker[string]{Queue: q, Sync: func(context.Context, string) error {
		t.Error("sync called on a shut down queue")
		return nil
	}}
	if w.ProcessNext(context.Background()) {
		t.Error("ProcessNext returned true on a shut down, empty queue")
	}
}

func TestRunWorkers(t *testing.T) {
	synced := func() bool { return true }
	never := func() bool { return false }
	tests := []struct {
		name   string
		synced []cache.InformerSynced
		keys   []string
		// want is the keys synced before ctx is cancelled.
		want []string
	}{
		{name: "syncs the queued keys", synced: []cache.InformerSynced{synced}, keys: []string{"ns/a", "ns/b"}, want: []string{"ns/a", "ns/b"}},
		{name: "no caches to wait for", keys: []string{"ns/a"}, want: []string{"ns/a"}},
		{name: "caches never sync", synced: []cache.InformerSynced{synced, never}, keys: []string{"ns/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newRecordingQueue()
			seen := make(chan string, len(tt.keys))
			for _, k := range tt.keys {
				q.Add(k)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				RunWorkers(ctx, tt.synced, Worker[string]{Queue: q, Workers: 2, Sync: func(_ context.Context, key string) error {
					seen <- key
					return nil
				}})
			}()
			var got []string
			for range tt.want {
				select {
				case k := <-seen:
					got = append(got, k)
				case <-time.After(10 * time.Second):
					t.Fatalf("synced %q, want %q", got, tt.want)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("synced %q, want %q", got, tt.want)
			}
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("RunWorkers did not return after ctx was cancelled")
			}
			if !q.ShuttingDown() {
				t.Error("queue not shut down when RunWorkers returned")
			}
			if len(tt.want) == 0 && len(seen) > 0 {
				t.Errorf("synced %q before the caches synced", <-seen)
			}
		})
	}
}

// TestRunWorkersWaitsForWorkers checks the shutdown order: the queue is shut
// down when ctx ends, and RunWorkers returns only once the sync in flight
// has returned.
func TestRunWorkersWaitsForWorkers(t *testing.T) {
	q := newRecordingQueue()
	q.Add("ns/a")
	started, release := make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunWorkers(ctx, nil, Worker[string]{Queue: q, Sync: func(context.Context, string) error {
			close(started)
			<-release
			return nil
		}})
	}()
	<-started
	cancel()
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return q.ShuttingDown(), nil }); err != nil {
		t.Fatal("queue not shut down after ctx was cancelled")
	}
	select {
	case <-done:
		t.Fatal("RunWorkers returned while a sync was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-done
	if got, want := q.recorded(), []string{"Forget ns/a", "Done ns/a"}; !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
}

// A namespaced and a cluster-scoped object for the event handler helpers.
var (
	pod  = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	node = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
)

func TestEnqueue(t *testing.T) {
	tests := []struct {
		name string
		obj  any
		want []string
	}{
		{name: "namespaced", obj: pod, want: []string{"ns/p"}},
		{name: "cluster-scoped", obj: node, want: []string{"n"}},
		{name: "tombstone", obj: cache.DeletedFinalStateUnknown{Key: "ns/p", Obj: pod}, want: []string{"ns/p"}},
		{name: "no key", obj: "not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := workqueue.NewTyped[string]()
			defer q.ShutDown()
			Enqueue(q, tt.obj)
			var got []string
			for q.Len() > 0 {
				k, _ := q.Get()
				got = append(got, k)
				q.Done(k)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("queued %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEnqueueAfter(t *testing.T) {
	q := newRecordingQueue()
	defer q.ShutDown()
	EnqueueAfter(q, pod, time.Hour)
	EnqueueAfter(q, "not an object", time.Hour)
	if got, want := q.recorded(), []string{"AddAfter ns/p 1h0m0s"}; !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
}

func TestDeleted(t *testing.T) {
	tests := []struct {
		name    string
		obj     any
		wantPod *corev1.Pod
		// wantMeta is whether the object unwraps as a metav1.Object.
		wantMeta bool
	}{
		{name: "object", obj: pod, wantPod: pod, wantMeta: true},
		{name: "tombstone", obj: cache.DeletedFinalStateUnknown{Key: "ns/p", Obj: pod}, wantPod: pod, wantMeta: true},
		{name: "other type", obj: node, wantMeta: true},
		{name: "tombstone of another type", obj: cache.DeletedFinalStateUnknown{Key: "n", Obj: node}, wantMeta: true},
		{name: "empty tombstone", obj: cache.DeletedFinalStateUnknown{Key: "ns/p"}},
		{name: "nil", obj: nil},
		{name: "not an object", obj: "ns/p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Deleted[*corev1.Pod](tt.obj)
			if got != tt.wantPod || ok != (tt.wantPod != nil) {
				t.Errorf("Deleted[*corev1.Pod] = (%v, %v), want (%v, %v)", got, ok, tt.wantPod, tt.wantPod != nil)
			}
			if _, ok := Deleted[metav1.Object](tt.obj); ok != tt.wantMeta {
				t.Errorf("Deleted[metav1.Object] ok = %v, want %v", ok, tt.wantMeta)
			}
		})
	}
}

// TestRunWorkersSeveralQueues runs two workers on two queues, each in its
// own number of goroutines, and shuts both queues down.
func TestRunWorkersSeveralQueues(t *testing.T) {
	a, b := newRecordingQueue(), newRecordingQueue()
	a.Add("ns/a")
	b.Add("ns/b")
	seen := make(chan string, 2)
	sync := func(_ context.Context, key string) error {
		seen <- key
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunWorkers(ctx, nil, Worker[string]{Queue: a, Sync: sync, Workers: 3}, Worker[string]{Queue: b, Sync: sync})
	}()
	var got []string
	for range 2 {
		select {
		case k := <-seen:
			got = append(got, k)
		case <-time.After(10 * time.Second):
			t.Fatalf("synced %q, want ns/a and ns/b", got)
		}
	}
	slices.Sort(got)
	if want := []string{"ns/a", "ns/b"}; !slices.Equal(got, want) {
		t.Errorf("synced %q, want %q", got, want)
	}
	cancel()
	<-done
	if !a.ShuttingDown() || !b.ShuttingDown() {
		t.Error("queues not shut down when RunWorkers returned")
	}
}

// TestNew checks that the queue tells the time by the clock it is given.
func TestNew(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	q := New[string]("test", clk)
	defer q.ShutDown()
	q.AddAfter("ns/a", time.Minute)
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return clk.HasWaiters(), nil }); err != nil {
		t.Fatal("the queue does not wait on the given clock")
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("Len = %d before the delay passed, want 0", n)
	}
	clk.Step(time.Minute)
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return q.Len() == 1, nil }); err != nil {
		t.Fatalf("Len = %d after the delay passed on the fake clock, want 1", q.Len())
	}
}

func TestOptionsDefaulted(t *testing.T) {
	own := slog.New(slog.DiscardHandler)
	for _, tt := range []struct {
		name string
		in   Options
		want int
		log  *slog.Logger
	}{
		{"zero", Options{}, 5, slog.Default()},
		{"set", Options{Workers: 2, Logger: own}, 2, own},
	} {
		got := tt.in.Defaulted(5)
		if got.Workers != tt.want || got.Logger != tt.log {
			t.Errorf("%s: Defaulted(5) = %+v, want %d workers and logger %p", tt.name, got, tt.want, tt.log)
		}
	}
}

func TestOnEvery(t *testing.T) {
	var got []any
	h := OnEvery(func(obj any) { got = append(got, obj) })
	h.OnAdd("added", false)
	h.OnUpdate("old", "new")
	h.OnDelete("deleted")
	if want := []any{"added", "new", "deleted"}; !reflect.DeepEqual(got, want) {
		t.Errorf("OnEvery called fn with %v, want %v", got, want)
	}
}
