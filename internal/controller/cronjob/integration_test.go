//go:build integration

package cronjob_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/record"

	"skiff.dev/skiff/internal/controller/cronjob"
	"skiff.dev/skiff/internal/controller/queue"
	"skiff.dev/skiff/internal/testserver"
)

// TestHistoryLimitIntegration: against a real API server, a CronJob keeps
// only successfulJobsHistoryLimit of its finished Jobs, the newest.
func TestHistoryLimitIntegration(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := s.Client

	cj, err := client.BatchV1().CronJobs("default").Create(ctx, &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec: batchv1.CronJobSpec{
			Schedule:                   "0 3 * * *",
			SuccessfulJobsHistoryLimit: new(int32(1)),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyOnFailure,
				Containers:    []corev1.Container{{Name: "backup", Image: "busybox"}},
			}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owner := metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range 3 {
		j, err := client.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("nightly-%d", i), OwnerReferences: []metav1.OwnerReference{*owner}},
			Spec:       *cj.Spec.JobTemplate.Spec.DeepCopy(),
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		began := metav1.NewTime(start.Add(time.Duration(i) * time.Minute))
		ended := metav1.NewTime(began.Add(10 * time.Second))
		j.Status = batchv1.JobStatus{
			StartTime: &began, CompletionTime: &ended, Succeeded: 1,
			Conditions: []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: "CompletionsReached", LastTransitionTime: ended},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: "CompletionsReached", LastTransitionTime: ended},
			},
		}
		if _, err := client.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	factory := informers.NewSharedInformerFactory(client, 0)
	c := cronjob.New(client, factory, record.NewFakeRecorder(100), cronjob.Options{Options: queue.Options{Workers: 1}})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; factory.Shutdown() }()

	testserver.Poll(t, 30*time.Second, "only the newest job, nightly-2, left", func() error {
		l, err := client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		var names []string
		for _, j := range l.Items {
			if j.DeletionTimestamp == nil {
				names = append(names, j.Name)
			}
		}
		if len(names) == 1 && names[0] == "nightly-2" {
			return nil
		}
		return fmt.Errorf("jobs = %v", names)
	})
	testserver.Poll(t, 10*time.Second, "lastSuccessfulTime set", func() error {
		got, err := client.BatchV1().CronJobs("default").Get(ctx, "nightly", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if lst := got.Status.LastSuccessfulTime; lst != nil && lst.Time.Equal(start.Add(2*time.Minute+10*time.Second)) {
			return nil
		}
		return fmt.Errorf("lastSuccessfulTime = %v", got.Status.LastSuccessfulTime)
	})
}
