//go:build integration

package job_test

import (
	"context"
	"errors"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"skiff.dev/skiff/internal/controller/job"
	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/testserver"
)

// TestJobIntegration runs the controller against a real API server; the test
// plays the node agent, ending pods as Succeeded or Failed.
func TestJobIntegration(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := s.Client

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "job-controller"})

	factory := informers.NewSharedInformerFactory(client, 0)
	c := job.New(client, factory, recorder, job.Options{PodFailureBackOff: 50 * time.Millisecond, Options: queue.Options{Workers: 2}})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; factory.Shutdown() }()

	t.Run("completions 5 parallelism 2", func(t *testing.T) {
		j := createJob(t, client, "five", 5, 2, 6)
		maxActive := 0
		poll(t, 60*time.Second, func() bool {
			pods := podsOf(t, client, j)
			active := 0
			for _, p := range pods {
				if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
					active++
				}
			}
			maxActive = max(maxActive, active)
			if active > 2 {
				t.Fatalf("%d active pods, parallelism is 2", active)
			}
			// Finish one running pod per round, once both ran at once
			// (finishing the first before the second is seen would keep
			// one active at a time).
			for _, p := range pods {
				if maxActive < 2 {
					break
				}
				if p.Status.Phase == "" || p.Status.Phase == corev1.PodPending {
					finishPod(t, client, &p, corev1.PodSucceeded)
					break
				}
			}
			got := getJob(t, client, j.Name)
			return hasCondition(got, batchv1.JobComplete, "CompletionsReached")
		})
		got := getJob(t, client, j.Name)
		if got.Status.Succeeded != 5 || got.Status.Failed != 0 || got.Status.Active != 0 || got.Status.CompletionTime == nil {
			t.Errorf("status = %+v", got.Status)
		}
		if maxActive != 2 {
			t.Errorf("never ran 2 pods at once (max %d)", maxActive)
		}
		// Counted pods are released: no pod keeps the tracking finalizer.
		poll(t, 10*time.Second, func() bool {
			for _, p := range podsOf(t, client, j) {
				if len(p.Finalizers) > 0 {
					return false
				}
			}
			return true
		})
		poll(t, 10*time.Second, func() bool {
			evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=five"})
			if err != nil {
				t.Fatal(err)
			}
			reasons := map[string]bool{}
			for _, e := range evs.Items {
				reasons[e.Reason] = true
			}
			return reasons["SuccessfulCreate"] && reasons["Completed"]
		})
	})

	t.Run("backoffLimit", func(t *testing.T) {
		j := createJob(t, client, "failing", 1, 1, 1)
		poll(t, 60*time.Second, func() bool {
			for _, p := range podsOf(t, client, j) {
				if p.Status.Phase == "" || p.Status.Phase == corev1.PodPending {
					finishPod(t, client, &p, corev1.PodFailed)
				}
			}
			return hasCondition(getJob(t, client, j.Name), batchv1.JobFailed, "BackoffLimitExceeded")
		})
		got := getJob(t, client, j.Name)
		if got.Status.Failed != 2 || got.Status.Active != 0 || !hasCondition(got, batchv1.JobFailureTarget, "BackoffLimitExceeded") {
			t.Errorf("status = %+v", got.Status)
		}
		for _, c := range got.Status.Conditions {
			if c.Type == batchv1.JobFailed && c.Message != "Job has reached the specified backoff limit" {
				t.Errorf("Failed message = %q", c.Message)
			}
		}
	})
}

func createJob(t *testing.T, client kubernetes.Interface, name string, completions, parallelism, backoffLimit int32) *batchv1.Job {
	t.Helper()
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.JobSpec{
			Completions: &completions, Parallelism: &parallelism, BackoffLimit: &backoffLimit,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "work", Image: "busybox"}},
			}},
		},
	}
	got, err := client.BatchV1().Jobs("default").Create(context.Background(), j, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func getJob(t *testing.T, client kubernetes.Interface, name string) *batchv1.Job {
	t.Helper()
	j, err := client.BatchV1().Jobs("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func podsOf(t *testing.T, client kubernetes.Interface, j *batchv1.Job) []corev1.Pod {
	t.Helper()
	l, err := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{
		LabelSelector: batchv1.ControllerUidLabel + "=" + string(j.UID),
	})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// finishPod ends a pod as the node agent would.
func finishPod(t *testing.T, client kubernetes.Interface, p *corev1.Pod, phase corev1.PodPhase) {
	t.Helper()
	code := int32(0)
	if phase == corev1.PodFailed {
		code = 1
	}
	now := metav1.Now()
	p = p.DeepCopy()
	p.Status.Phase = phase
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "work", Image: "busybox",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, StartedAt: now, FinishedAt: now}},
	}}
	if _, err := client.CoreV1().Pods(p.Namespace).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Logf("finishing pod %s: %v", p.Name, err) // a conflict: retried next round
	}
}

func hasCondition(j *batchv1.Job, t batchv1.JobConditionType, reason string) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue && c.Reason == reason {
			return true
		}
	}
	return false
}

// poll waits for cond with testserver.Poll.
func poll(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	testserver.Poll(t, timeout, "condition", func() error {
		if cond() {
			return nil
		}
		return errors.New("not met")
	})
}
