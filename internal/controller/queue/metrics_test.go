package queue

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/component-base/metrics/legacyregistry"

	"skiff.dev/skiff/internal/metricstest"
)

// TestQueueMetrics checks that a queue's work shows in the process's
// /metrics as client-go's workqueue metrics under the queue's name.
func TestQueueMetrics(t *testing.T) {
	// The registry is the process's: a name of its own for each run.
	queueName := fmt.Sprintf("queue_metrics_test_%d", time.Now().UnixNano())
	q := New[string](queueName, nil)
	defer q.ShutDown()
	q.Add("a")
	q.Add("b")
	key, _ := q.Get()
	q.Done(key)
	q.AddRateLimited(key) // back in the queue once its back-off is over

	f := metricstest.Scrape(t, legacyregistry.Handler())
	name := map[string]string{"name": queueName}
	// The retried key comes back after its back-off, at a time the test
	// does not control: at least the first two adds and one key waiting.
	for _, tt := range []struct {
		family          string
		atLeast, atMost float64
	}{
		{"workqueue_retries_total", 1, 1},
		{"workqueue_work_duration_seconds", 1, 1},
		{"workqueue_adds_total", 2, 3},
		{"workqueue_depth", 1, 2},
		{"workqueue_queue_duration_seconds", 1, 1},
	} {
		if got := f.Value(tt.family, name); got < tt.atLeast || got > tt.atMost {
			t.Errorf("%s{name=%s} = %v, want %v to %v", tt.family, queueName, got, tt.atLeast, tt.atMost)
		}
	}
	if missing := f.Missing("workqueue_unfinished_work_seconds", "workqueue_longest_running_processor_seconds"); missing != nil {
		t.Errorf("families %v missing", missing)
	}
}
