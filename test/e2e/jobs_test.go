package e2e

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const jobs = `apiVersion: batch/v1
kind: Job
metadata:
  name: train
spec:
  completions: 5
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: train
        image: localhost/skiff/model-server:v1
        command: ["/train"]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: broken
spec:
  backoffLimit: 1
  template:
    metadata:
      annotations:
        skiff.dev/simulate-exit-code: "1"
    spec:
      restartPolicy: Never
      containers:
      - name: train
        image: localhost/skiff/model-server:v1
`

const cronJob = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: retrain
spec:
  schedule: "* * * * *"
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: retrain
            image: localhost/skiff/model-server:v1
`

// TestJobs is issue 3's fourth acceptance test, on hollow nodes whose
// containers exit after about a second.
func TestJobs(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--hollow-nodes", "2")
	c := s.client()
	ctx := context.Background()
	s.kubectl(jobs, nil, "apply", "-f", "-")
	s.kubectl(cronJob, nil, "apply", "-f", "-")

	t.Run("completions 5, parallelism 2", func(t *testing.T) {
		// Never more than 2 pods at once.
		maxActive := 0
		var last *batchv1.Job
		err := poll(100*time.Millisecond, 90*time.Second, func() error {
			j, err := c.BatchV1().Jobs("default").Get(ctx, "train", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			last = j
			maxActive = max(maxActive, int(j.Status.Active))
			if !hasCondition(j, batchv1.JobComplete) {
				return errors.New("not complete")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("job not complete: %+v", last.Status)
		}
		if last.Status.Succeeded != 5 {
			t.Errorf("complete with %d succeeded, want 5", last.Status.Succeeded)
		}
		if maxActive > 2 {
			t.Errorf("%d pods active at once, parallelism is 2", maxActive)
		}
		out := s.ok("get", "job", "train")
		if !regexp.MustCompile(`(?m)^train\s+Complete\s+5/5\s`).MatchString(out) {
			t.Errorf("kubectl get job:\n%s", out)
		}
	})

	t.Run("failing pods stop at backoffLimit", func(t *testing.T) {
		s.ok("wait", "--for=condition=Failed", "job/broken", "--timeout=120s")
		j, err := c.BatchV1().Jobs("default").Get(ctx, "broken", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if j.Status.Failed != 2 {
			t.Errorf("%d failed pods, want 2 (backoffLimit 1)", j.Status.Failed)
		}
		for _, cond := range j.Status.Conditions {
			if cond.Type == batchv1.JobFailed && cond.Reason != "BackoffLimitExceeded" {
				t.Errorf("Failed condition reason %q, want BackoffLimitExceeded", cond.Reason)
			}
		}
	})

	t.Run("cronjob creates jobs on schedule and keeps its history limit", func(t *testing.T) {
		seen := map[string]bool{}
		eventually(t, 150*time.Second, "two scheduled jobs", func() bool {
			list, err := c.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range list.Items {
				if strings.HasPrefix(j.Name, "retrain-") {
					seen[j.Name] = true
				}
			}
			return len(seen) >= 2
		})
		eventually(t, 30*time.Second, "one successful job kept", func() bool {
			list, err := c.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			kept, running := 0, 0
			for _, j := range list.Items {
				if !strings.HasPrefix(j.Name, "retrain-") {
					continue
				}
				if hasCondition(&j, batchv1.JobComplete) {
					kept++
				} else {
					running++
				}
			}
			return kept == 1 && running == 0
		})
		out := s.ok("get", "cronjob", "retrain")
		if !regexp.MustCompile(`(?m)^retrain\s+\* \* \* \* \*\s+<none>\s+False\s+0\s+\S+\s`).MatchString(out) {
			t.Errorf("kubectl get cronjob:\n%s", out)
		}
	})
}

func hasCondition(j *batchv1.Job, typ batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == typ && c.Status == "True" {
			return true
		}
	}
	return false
}
