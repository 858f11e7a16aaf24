package scheduler

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics"

	"skiff.dev/skiff/internal/metricstest"
)

// TestSchedulerMetrics schedules one pod that fits and one that does not
// and reads kube-scheduler's metrics of the attempts, under the
// scheduler's name as "profile", from the set the process's /metrics
// serves.
func TestSchedulerMetrics(t *testing.T) {
	const profile = "metrics-test-scheduler"
	mine := func(p *corev1.Pod) { p.Spec.SchedulerName = profile }
	objs := []runtime.Object{
		fakeNode("a", "1"),
		fakePod("fits", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}, mine),
		fakePod("too-big", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}, mine),
	}
	f := startFakeScheduler(objs, bindReactor, record.NewFakeRecorder(100),
		Options{Seed: 1, SchedulerName: profile, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.run()
	defer f.stop()

	// The scheduler's families alone: the process's registry also holds
	// what other tests' API servers registered, whose collectors dial
	// their stopped etcd on every gather.
	reg := metrics.NewKubeRegistry()
	reg.MustRegister(processMetrics().registerables()...)
	handler := metrics.HandlerFor(reg, metrics.HandlerOpts{})

	byResult := func(result string) map[string]string { return map[string]string{"result": result, "profile": profile} }
	var got metricstest.Families
	err := wait.PollUntilContextTimeout(f.ctx, 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		got = metricstest.Scrape(t, handler)
		// The attempt's counter and histogram are two updates: wait for
		// both.
		return got.Value("scheduler_schedule_attempts_total", byResult(resultScheduled)) == 1 &&
			got.Value("scheduler_schedule_attempts_total", byResult(resultUnschedulable)) >= 1 &&
			got.Value("scheduler_scheduling_attempt_duration_seconds", byResult(resultScheduled)) >= 1, nil
	})
	if err != nil {
		t.Fatalf("scheduler_schedule_attempts_total{profile=%s}: scheduled %v, unschedulable %v; want 1 and at least 1",
			profile, got.Value("scheduler_schedule_attempts_total", byResult(resultScheduled)),
			got.Value("scheduler_schedule_attempts_total", byResult(resultUnschedulable)))
	}
	if n := got.Value("scheduler_scheduling_attempt_duration_seconds", byResult(resultScheduled)); n != 1 {
		t.Errorf("scheduler_scheduling_attempt_duration_seconds{result=scheduled} has %v samples, want 1", n)
	}
	if missing := got.Missing("scheduler_pending_pods", "scheduler_scheduling_algorithm_duration_seconds",
		"scheduler_pod_scheduling_attempts", "scheduler_pod_scheduling_sli_duration_seconds"); missing != nil {
		t.Errorf("families %v missing", missing)
	}
	for _, queue := range []string{"active", "backoff", "unschedulable"} {
		if got.Sample("scheduler_pending_pods", map[string]string{"queue": queue}) == nil {
			t.Errorf("scheduler_pending_pods{queue=%q} missing", queue)
		}
	}
}

// TestQueueReportsPending checks that the queue reports its parts' sizes
// after every change.
func TestQueueReportsPending(t *testing.T) {
	q, _ := newTestQueue()
	var got [3]int
	q.report = func(active, backoff, unschedulable int) { got = [3]int{active, backoff, unschedulable} }
	q.add(fakePod("a", nil))
	q.add(fakePod("b", nil))
	if got != [3]int{2, 0, 0} {
		t.Fatalf("after two adds: active, backoff, unschedulable = %v, want [2 0 0]", got)
	}
	qp, _, _ := q.pop()
	if got != [3]int{1, 0, 0} {
		t.Fatalf("after pop: %v, want [1 0 0]", got)
	}
	q.addUnschedulable(qp)
	if got != [3]int{1, 0, 1} {
		t.Fatalf("after addUnschedulable: %v, want [1 0 1]", got)
	}
	q.moveAll()
	if got != [3]int{1, 1, 0} {
		t.Fatalf("after moveAll (still backing off): %v, want [1 1 0]", got)
	}
}
