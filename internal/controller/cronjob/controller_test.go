package cronjob

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestMostRecentScheduleTime(t *testing.T) {
	cases := []struct {
		name       string
		schedule   string
		timeZone   *string
		created    string
		last       string
		deadline   *int64
		now        string
		want       string // "" for none
		wantMissed int
	}{
		{name: "not yet", schedule: "* * * * *", created: "2026-03-01T10:00:30Z", now: "2026-03-01T10:00:50Z"},
		{name: "first", schedule: "* * * * *", created: "2026-03-01T10:00:30Z", now: "2026-03-01T10:01:10Z", want: "2026-03-01T10:01:00Z", wantMissed: 1},
		{name: "since last", schedule: "* * * * *", created: "2026-03-01T09:00:00Z", last: "2026-03-01T10:01:00Z", now: "2026-03-01T10:05:00Z", want: "2026-03-01T10:05:00Z", wantMissed: 4},
		{name: "hourly macro", schedule: "@hourly", created: "2026-03-01T09:30:00Z", now: "2026-03-01T11:10:00Z", want: "2026-03-01T11:00:00Z", wantMissed: 2},
		{name: "too many missed", schedule: "* * * * *", created: "2026-03-01T00:00:00Z", now: "2026-03-01T10:05:30Z", want: "2026-03-01T10:05:00Z", wantMissed: 101},
		{name: "starting deadline bounds the past", schedule: "* * * * *", created: "2026-03-01T00:00:00Z", deadline: new(int64(90)), now: "2026-03-01T10:05:30Z", want: "2026-03-01T10:05:00Z", wantMissed: 1},
		{name: "daily in a time zone", schedule: "0 9 * * *", timeZone: new("Asia/Tokyo"), created: "2026-03-01T00:30:00Z", now: "2026-03-02T00:10:00Z", want: "2026-03-02T00:00:00Z", wantMissed: 1},
		{name: "monthly, many missed", schedule: "0 0 1 * *", created: "2010-01-15T00:00:00Z", now: "2026-03-20T00:00:00Z", want: "2026-03-01T00:00:00Z", wantMissed: 101},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cj := &batchv1.CronJob{
				ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(at(tc.created))},
				Spec:       batchv1.CronJobSpec{Schedule: tc.schedule, TimeZone: tc.timeZone, StartingDeadlineSeconds: tc.deadline},
			}
			if tc.last != "" {
				cj.Status.LastScheduleTime = &metav1.Time{Time: at(tc.last)}
			}
			sched, err := cron.ParseStandard(formatSchedule(cj))
			if err != nil {
				t.Fatal(err)
			}
			got, missed := mostRecentScheduleTime(cj, at(tc.now), sched)
			switch {
			case tc.want == "" && got != nil:
				t.Errorf("got %v, want none", got)
			case tc.want != "" && (got == nil || !got.Equal(at(tc.want))):
				t.Errorf("got %v, want %s", got, tc.want)
			}
			if missed != tc.wantMissed {
				t.Errorf("missed = %d, want %d", missed, tc.wantMissed)
			}
		})
	}
}

type fixture struct {
	c        *Controller
	client   *fake.Clientset
	recorder *record.FakeRecorder
}

func newFixture(t *testing.T, now time.Time, cj *batchv1.CronJob, jobs ...*batchv1.Job) *fixture {
	t.Helper()
	objs := []runtime.Object{cj}
	for _, j := range jobs {
		objs = append(objs, j)
	}
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	recorder := record.NewFakeRecorder(100)
	c := New(client, factory, recorder, Options{Clock: clocktesting.NewFakeClock(now)})
	if err := factory.Batch().V1().CronJobs().Informer().GetIndexer().Add(cj); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if err := factory.Batch().V1().Jobs().Informer().GetIndexer().Add(j); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{c: c, client: client, recorder: recorder}
}

func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func (f *fixture) jobNames(t *testing.T) []string {
	t.Helper()
	l, err := f.client.BatchV1().Jobs("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, j := range l.Items {
		out = append(out, j.Name)
	}
	slices.Sort(out)
	return out
}

func (f *fixture) cronJob(t *testing.T) *batchv1.CronJob {
	t.Helper()
	cj, err := f.client.BatchV1().CronJobs("ns").Get(context.Background(), "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cj
}

func newCronJob(mutate func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "ns", UID: "cj-uid",
			CreationTimestamp: metav1.NewTime(at("2026-03-01T10:00:30Z"))},
		Spec: batchv1.CronJobSpec{
			Schedule:                   "* * * * *",
			ConcurrencyPolicy:          batchv1.AllowConcurrent,
			Suspend:                    new(false),
			SuccessfulJobsHistoryLimit: new(int32(3)),
			FailedJobsHistoryLimit:     new(int32(1)),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "hello"}, Annotations: map[string]string{"note": "x"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "hello", Image: "busybox"}},
				}}},
			},
		},
	}
	if mutate != nil {
		mutate(cj)
	}
	return cj
}

// childJob is a Job of cj scheduled at the given time, finished with cond
// ("" for running).
func childJob(cj *batchv1.CronJob, scheduled string, cond batchv1.JobConditionType) *batchv1.Job {
	j, err := jobFromTemplate(cj, at(scheduled))
	if err != nil {
		panic(err)
	}
	j.UID = types.UID(j.Name)
	j.Status.StartTime = &metav1.Time{Time: at(scheduled)}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}
		if cond == batchv1.JobComplete {
			j.Status.CompletionTime = &metav1.Time{Time: at(scheduled).Add(10 * time.Second)}
		}
	}
	return j
}

func activeRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: j.Namespace, Name: j.Name, UID: j.UID}
}

func TestSync(t *testing.T) {
	const minute1 = "hello-29539321" // 2026-03-01T10:01:00Z in minutes
	cases := []struct {
		name        string
		cj          *batchv1.CronJob
		jobs        func(*batchv1.CronJob) []*batchv1.Job
		now         string
		wantJobs    []string
		wantEvents  []string
		wantRequeue time.Duration
		check       func(t *testing.T, f *fixture)
	}{{
		name:        "nothing due",
		cj:          newCronJob(nil),
		now:         "2026-03-01T10:00:40Z",
		wantRequeue: 20*time.Second + nextScheduleDelta,
	}, {
		name:        "creates the job of the schedule time",
		cj:          newCronJob(nil),
		now:         "2026-03-01T10:01:00.5Z",
		wantJobs:    []string{minute1},
		wantEvents:  []string{"Normal SuccessfulCreate Created job " + minute1},
		wantRequeue: 59500*time.Millisecond + nextScheduleDelta,
		check: func(t *testing.T, f *fixture) {
			j, err := f.client.BatchV1().Jobs("ns").Get(context.Background(), minute1, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2026-03-01T10:01:00Z" {
				t.Errorf("scheduled timestamp = %q", got)
			}
			if j.Labels["app"] != "hello" || j.Annotations["note"] != "x" {
				t.Errorf("metadata = %v %v", j.Labels, j.Annotations)
			}
			if ref := metav1.GetControllerOf(j); ref == nil || ref.UID != "cj-uid" || ref.Kind != "CronJob" {
				t.Errorf("controller = %v", ref)
			}
			cj := f.cronJob(t)
			if len(cj.Status.Active) != 1 || cj.Status.Active[0].Name != minute1 || !cj.Status.LastScheduleTime.Time.Equal(at("2026-03-01T10:01:00Z")) {
				t.Errorf("status = %+v", cj.Status)
			}
		},
	}, {
		name: "forbid keeps the running job alone",
		cj:   newCronJob(func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent }),
		jobs: func(cj *batchv1.CronJob) []*batchv1.Job {
			j := childJob(cj, "2026-03-01T10:01:00Z", "")
			cj.Status.Active = []corev1.ObjectReference{activeRef(j)}
			cj.Status.LastScheduleTime = &metav1.Time{Time: at("2026-03-01T10:01:00Z")}
			return []*batchv1.Job{j}
		},
		now:         "2026-03-01T10:02:00Z",
		wantJobs:    []string{minute1},
		wantEvents:  []string{"Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid"},
		wantRequeue: time.Minute + nextScheduleDelta,
	}, {
		name: "replace deletes the running job",
		cj:   newCronJob(func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent }),
		jobs: func(cj *batchv1.CronJob) []*batchv1.Job {
			j := childJob(cj, "2026-03-01T10:01:00Z", "")
			cj.Status.Active = []corev1.ObjectReference{activeRef(j)}
			cj.Status.LastScheduleTime = &metav1.Time{Time: at("2026-03-01T10:01:00Z")}
			return []*batchv1.Job{j}
		},
		now:         "2026-03-01T10:02:00Z",
		wantJobs:    []string{"hello-29539322"},
		wantEvents:  []string{"Normal SuccessfulDelete Deleted job " + minute1, "Normal SuccessfulCreate Created job hello-29539322"},
		wantRequeue: time.Minute + nextScheduleDelta,
		check: func(t *testing.T, f *fixture) {
			if cj := f.cronJob(t); len(cj.Status.Active) != 1 || cj.Status.Active[0].Name != "hello-29539322" {
				t.Errorf("active = %+v", cj.Status.Active)
			}
		},
	}, {
		// A start time older than startingDeadlineSeconds is skipped.
		name:        "past the starting deadline",
		cj:          newCronJob(func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = new(int64(10)) }),
		now:         "2026-03-01T10:01:20Z",
		wantRequeue: 40*time.Second + nextScheduleDelta,
	}, {
		name: "suspended",
		cj:   newCronJob(func(cj *batchv1.CronJob) { cj.Spec.Suspend = new(true) }),
		now:  "2026-03-01T10:05:00Z",
	}, {
		name: "too many missed start times",
		cj: newCronJob(func(cj *batchv1.CronJob) {
			cj.CreationTimestamp = metav1.NewTime(at("2026-03-01T00:00:00Z"))
		}),
		now:         "2026-03-01T10:05:00Z",
		wantJobs:    []string{"hello-29539325"},
		wantEvents:  []string{"Warning TooManyMissedTimes too many missed start times: 101. Set or decrease .spec.startingDeadlineSeconds or check clock skew", "Normal SuccessfulCreate Created job hello-29539325"},
		wantRequeue: time.Minute + nextScheduleDelta,
	}, {
		name: "finished jobs leave the active list and the history is trimmed",
		cj:   newCronJob(func(cj *batchv1.CronJob) { cj.Spec.SuccessfulJobsHistoryLimit = new(int32(1)) }),
		jobs: func(cj *batchv1.CronJob) []*batchv1.Job {
			a := childJob(cj, "2026-03-01T10:01:00Z", batchv1.JobComplete)
			b := childJob(cj, "2026-03-01T10:02:00Z", batchv1.JobComplete)
			c := childJob(cj, "2026-03-01T10:03:00Z", batchv1.JobComplete)
			d := childJob(cj, "2026-03-01T10:04:00Z", batchv1.JobFailed)
			cj.Status.Active = []corev1.ObjectReference{activeRef(c)}
			cj.Status.LastScheduleTime = &metav1.Time{Time: at("2026-03-01T10:04:00Z")}
			return []*batchv1.Job{a, b, c, d}
		},
		now:      "2026-03-01T10:04:30Z",
		wantJobs: []string{"hello-29539323", "hello-29539324"},
		wantEvents: []string{
			"Normal SawCompletedJob Saw completed job: hello-29539323, condition: Complete",
			"Normal SuccessfulDelete Deleted job hello-29539321",
			"Normal SuccessfulDelete Deleted job hello-29539322",
		},
		wantRequeue: 30*time.Second + nextScheduleDelta,
		check: func(t *testing.T, f *fixture) {
			cj := f.cronJob(t)
			if len(cj.Status.Active) != 0 || cj.Status.LastSuccessfulTime == nil || !cj.Status.LastSuccessfulTime.Time.Equal(at("2026-03-01T10:02:10Z")) {
				t.Errorf("status = %+v", cj.Status)
			}
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var jobs []*batchv1.Job
			if tc.jobs != nil {
				jobs = tc.jobs(tc.cj)
			}
			f := newFixture(t, at(tc.now), tc.cj, jobs...)
			requeue, err := f.c.sync(context.Background(), "ns/hello")
			if err != nil {
				t.Fatal(err)
			}
			var got time.Duration
			if requeue != nil {
				got = *requeue
			}
			if got != tc.wantRequeue {
				t.Errorf("requeue after %v, want %v", got, tc.wantRequeue)
			}
			if names := f.jobNames(t); !slices.Equal(names, tc.wantJobs) {
				t.Errorf("jobs = %v, want %v", names, tc.wantJobs)
			}
			if ev := f.events(); !slices.Equal(ev, tc.wantEvents) {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(ev, "\n"), strings.Join(tc.wantEvents, "\n"))
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

func TestJobName(t *testing.T) {
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "hello"}}
	if got, want := jobName(cj, at("2026-03-01T10:01:00Z")), fmt.Sprintf("hello-%d", at("2026-03-01T10:01:00Z").Unix()/60); got != want {
		t.Errorf("jobName = %q, want %q", got, want)
	}
}
