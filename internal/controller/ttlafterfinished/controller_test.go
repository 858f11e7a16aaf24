package ttlafterfinished

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestSync(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	job := func(ttl *int32, finishedAgo time.Duration, cond batchv1.JobConditionType) *batchv1.Job {
		j := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "ns", UID: "uid", ResourceVersion: "7"},
			Spec:       batchv1.JobSpec{TTLSecondsAfterFinished: ttl},
		}
		if cond != "" {
			j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-finishedAgo))}}
		}
		return j
	}
	cases := []struct {
		name       string
		job        *batchv1.Job
		wantDelete bool
	}{
		{"no ttl", job(nil, time.Hour, batchv1.JobComplete), false},
		{"running", job(new(int32(0)), 0, ""), false},
		{"not expired", job(new(int32(60)), 30*time.Second, batchv1.JobComplete), false},
		{"expired complete", job(new(int32(60)), 61*time.Second, batchv1.JobComplete), true},
		{"expired failed, ttl 0", job(new(int32(0)), 0, batchv1.JobFailed), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(tc.job)
			factory := informers.NewSharedInformerFactory(client, 0)
			c := New(client, factory, Options{Clock: clocktesting.NewFakeClock(now)})
			if err := factory.Batch().V1().Jobs().Informer().GetIndexer().Add(tc.job); err != nil {
				t.Fatal(err)
			}
			if err := c.sync(context.Background(), "ns/pi"); err != nil {
				t.Fatal(err)
			}
			var deleted *clienttesting.DeleteActionImpl
			for _, a := range client.Actions() {
				if d, ok := a.(clienttesting.DeleteActionImpl); ok {
					deleted = &d
				}
			}
			if (deleted != nil) != tc.wantDelete {
				t.Fatalf("deleted = %v, want %v", deleted != nil, tc.wantDelete)
			}
			if deleted != nil {
				o := deleted.DeleteOptions
				if o.PropagationPolicy == nil || *o.PropagationPolicy != metav1.DeletePropagationForeground || o.Preconditions == nil || *o.Preconditions.UID != "uid" {
					t.Errorf("delete options = %+v", o)
				}
			}
			if tc.name == "not expired" && c.queue.Len() != 0 {
				// AddAfter on the fake clock: due in 30s, not queued yet.
				t.Errorf("queued early")
			}
		})
	}
}
