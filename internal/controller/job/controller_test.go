package job

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fixture struct {
	c        *Controller
	client   *fake.Clientset
	recorder *record.FakeRecorder
	clock    *clocktesting.FakeClock
}

func newFixture(t *testing.T, job *batchv1.Job, pods ...*corev1.Pod) *fixture {
	t.Helper()
	objs := []runtime.Object{job}
	for _, p := range pods {
		objs = append(objs, p)
	}
	client := fake.NewClientset(objs...)
	var n atomic.Int32
	client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		pod := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" {
			pod.Name = fmt.Sprintf("%s%05d", pod.GenerateName, n.Add(1))
			pod.UID = types.UID(pod.Name)
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	clock := clocktesting.NewFakeClock(t0)
	recorder := record.NewFakeRecorder(100)
	c := New(client, factory, recorder, Options{Clock: clock})
	if err := factory.Batch().V1().Jobs().Informer().GetIndexer().Add(job); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if err := factory.Core().V1().Pods().Informer().GetIndexer().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{c: c, client: client, recorder: recorder, clock: clock}
}

func (f *fixture) job(t *testing.T, name string) *batchv1.Job {
	t.Helper()
	j, err := f.client.BatchV1().Jobs("ns").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (f *fixture) pods(t *testing.T) []corev1.Pod {
	t.Helper()
	l, err := f.client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
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

func (f *fixture) count(verb, resource string) int {
	n := 0
	for _, a := range f.client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource && a.GetSubresource() == "" {
			n++
		}
	}
	return n
}

func newJob(mutate func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "ns", UID: "job-uid", ResourceVersion: "1",
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Minute))},
		Spec: batchv1.JobSpec{
			Completions:    new(int32(5)),
			Parallelism:    new(int32(2)),
			BackoffLimit:   new(int32(6)),
			CompletionMode: new(batchv1.NonIndexedCompletion),
			Suspend:        new(false),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: "job-uid"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
					batchv1.ControllerUidLabel: "job-uid", batchv1.JobNameLabel: "pi",
					"controller-uid": "job-uid", "job-name": "pi",
				}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "pi", Image: "perl"}},
				},
			},
		},
	}
	if mutate != nil {
		mutate(j)
	}
	return j
}

// newPodOf makes a pod of job in the given phase, holding the tracking
// finalizer; index < 0 means NonIndexed.
func newPodOf(job *batchv1.Job, name string, phase corev1.PodPhase, index int) *corev1.Pod {
	p := newPod(job, index)
	p.Name, p.UID, p.ResourceVersion = name, types.UID(name), "1"
	p.CreationTimestamp = metav1.NewTime(t0.Add(-30 * time.Second))
	p.Status.Phase = phase
	if phase == corev1.PodSucceeded || phase == corev1.PodFailed {
		code := int32(0)
		if phase == corev1.PodFailed {
			code = 1
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pi", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.NewTime(t0.Add(-time.Second))},
		}}}
	}
	return p
}

func condition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	return findCondition(j.Status.Conditions, t)
}

func TestSync(t *testing.T) {
	type check func(t *testing.T, f *fixture)
	cases := []struct {
		name  string
		job   *batchv1.Job
		pods  func(*batchv1.Job) []*corev1.Pod
		check check
	}{{
		name: "creates pods up to parallelism",
		job:  newJob(nil),
		check: func(t *testing.T, f *fixture) {
			pods := f.pods(t)
			if len(pods) != 2 {
				t.Fatalf("got %d pods, want 2", len(pods))
			}
			for _, p := range pods {
				if !strings.HasPrefix(p.Name, "pi-") || !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) {
					t.Errorf("pod %s: finalizers %v", p.Name, p.Finalizers)
				}
				if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != "job-uid" || ref.Kind != "Job" {
					t.Errorf("pod %s: controller %v", p.Name, ref)
				}
				if p.Labels[batchv1.JobNameLabel] != "pi" || p.Labels["controller-uid"] != "job-uid" {
					t.Errorf("pod %s: labels %v", p.Name, p.Labels)
				}
			}
			j := f.job(t, "pi")
			if j.Status.Active != 2 || j.Status.StartTime == nil || !j.Status.StartTime.Time.Equal(t0) {
				t.Errorf("status = %+v", j.Status)
			}
			if ev := f.events(); len(ev) != 2 || !strings.HasPrefix(ev[0], "Normal SuccessfulCreate Created pod: pi-") {
				t.Errorf("events = %q", ev)
			}
		},
	}, {
		name: "indexed pods carry their index",
		job: newJob(func(j *batchv1.Job) {
			j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
			j.Spec.Completions, j.Spec.Parallelism = new(int32(4)), new(int32(3))
		}),
		pods: func(j *batchv1.Job) []*corev1.Pod {
			// Index 1 succeeded already: it is not run again.
			return []*corev1.Pod{newPodOf(j, "done", corev1.PodSucceeded, 1)}
		},
		check: func(t *testing.T, f *fixture) {
			got := map[string]bool{}
			for _, p := range f.pods(t) {
				if p.Name == "done" {
					continue
				}
				ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
				got[ix] = true
				if p.Labels[batchv1.JobCompletionIndexAnnotation] != ix || p.Spec.Hostname != "pi-"+ix || !strings.HasPrefix(p.Name, "pi-"+ix+"-") {
					t.Errorf("pod %s: labels %v hostname %q", p.Name, p.Labels, p.Spec.Hostname)
				}
				env := p.Spec.Containers[0].Env
				if len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" || env[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['batch.kubernetes.io/job-completion-index']" {
					t.Errorf("pod %s: env %+v", p.Name, env)
				}
			}
			if !got["0"] || !got["2"] || !got["3"] || len(got) != 3 {
				t.Errorf("indexes created = %v, want 0, 2, 3", got)
			}
			j := f.job(t, "pi")
			if j.Status.CompletedIndexes != "1" || j.Status.Succeeded != 1 || j.Status.Active != 3 {
				t.Errorf("status = %+v", j.Status)
			}
		},
	}, {
		name: "failures beyond backoffLimit fail the job",
		job:  newJob(func(j *batchv1.Job) { j.Spec.BackoffLimit = new(int32(1)) }),
		pods: func(j *batchv1.Job) []*corev1.Pod {
			return []*corev1.Pod{
				newPodOf(j, "a", corev1.PodFailed, -1),
				newPodOf(j, "b", corev1.PodFailed, -1),
				newPodOf(j, "c", corev1.PodSucceeded, -1),
			}
		},
		check: func(t *testing.T, f *fixture) {
			j := f.job(t, "pi")
			ft, failed := condition(j, batchv1.JobFailureTarget), condition(j, batchv1.JobFailed)
			if ft == nil || failed == nil || failed.Reason != "BackoffLimitExceeded" || failed.Message != "Job has reached the specified backoff limit" {
				t.Fatalf("conditions = %+v", j.Status.Conditions)
			}
			if j.Status.Failed != 2 || j.Status.Succeeded != 1 || j.Status.CompletionTime != nil || len(j.Status.UncountedTerminatedPods.Failed) != 0 {
				t.Errorf("status = %+v", j.Status)
			}
			for _, p := range f.pods(t) {
				if len(p.Finalizers) != 0 {
					t.Errorf("pod %s keeps finalizers %v", p.Name, p.Finalizers)
				}
			}
			if f.count("create", "pods") != 0 {
				t.Error("created pods for a failed job")
			}
			if ev := f.events(); !slices.Contains(ev, "Warning BackoffLimitExceeded Job has reached the specified backoff limit") {
				t.Errorf("events = %q", ev)
			}
		},
	}, {
		name: "enough successes complete the job",
		job:  newJob(func(j *batchv1.Job) { j.Spec.Completions = new(int32(2)) }),
		pods: func(j *batchv1.Job) []*corev1.Pod {
			return []*corev1.Pod{newPodOf(j, "a", corev1.PodSucceeded, -1), newPodOf(j, "b", corev1.PodSucceeded, -1)}
		},
		check: func(t *testing.T, f *fixture) {
			j := f.job(t, "pi")
			scm, complete := condition(j, batchv1.JobSuccessCriteriaMet), condition(j, batchv1.JobComplete)
			if scm == nil || complete == nil || complete.Reason != "CompletionsReached" || complete.Message != "Reached expected number of succeeded pods" {
				t.Fatalf("conditions = %+v", j.Status.Conditions)
			}
			if j.Status.Succeeded != 2 || j.Status.CompletionTime == nil || j.Status.Active != 0 {
				t.Errorf("status = %+v", j.Status)
			}
			if ev := f.events(); !slices.Contains(ev, "Normal Completed Job completed") {
				t.Errorf("events = %q", ev)
			}
		},
	}, {
		name: "suspend deletes active pods without counting them",
		job:  newJob(func(j *batchv1.Job) { j.Spec.Suspend = new(true) }),
		pods: func(j *batchv1.Job) []*corev1.Pod {
			return []*corev1.Pod{newPodOf(j, "a", corev1.PodRunning, -1), newPodOf(j, "b", corev1.PodPending, -1)}
		},
		check: func(t *testing.T, f *fixture) {
			if n := len(f.pods(t)); n != 0 {
				t.Errorf("%d pods left", n)
			}
			j := f.job(t, "pi")
			s := condition(j, batchv1.JobSuspended)
			if s == nil || s.Status != corev1.ConditionTrue || s.Reason != "JobSuspended" || s.Message != "Job suspended" {
				t.Fatalf("conditions = %+v", j.Status.Conditions)
			}
			if j.Status.Failed != 0 || j.Status.Active != 0 || j.Status.StartTime != nil {
				t.Errorf("status = %+v", j.Status)
			}
			if ev := f.events(); !slices.Contains(ev, "Normal Suspended Job suspended") {
				t.Errorf("events = %q", ev)
			}
		},
	}, {
		name: "active deadline fails the job",
		job: newJob(func(j *batchv1.Job) {
			j.Spec.ActiveDeadlineSeconds = new(int64(10))
			j.Status.StartTime = &metav1.Time{Time: t0.Add(-11 * time.Second)}
			j.Status.Active = 1
		}),
		pods: func(j *batchv1.Job) []*corev1.Pod {
			return []*corev1.Pod{newPodOf(j, "a", corev1.PodRunning, -1)}
		},
		check: func(t *testing.T, f *fixture) {
			j := f.job(t, "pi")
			ft := condition(j, batchv1.JobFailureTarget)
			if ft == nil || ft.Reason != "DeadlineExceeded" || ft.Message != "Job was active longer than specified deadline" {
				t.Fatalf("conditions = %+v", j.Status.Conditions)
			}
			// The pod is deleted and counted as failed; the Failed condition
			// waits for it to terminate.
			if j.Status.Failed != 1 || j.Status.Active != 0 || condition(j, batchv1.JobFailed) != nil {
				t.Errorf("status = %+v", j.Status)
			}
			if f.count("delete", "pods") != 1 {
				t.Errorf("deletes = %d", f.count("delete", "pods"))
			}
		},
	}, {
		name: "a failure delays the replacement",
		job:  newJob(func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = new(int32(1)), new(int32(1)) }),
		pods: func(j *batchv1.Job) []*corev1.Pod {
			return []*corev1.Pod{newPodOf(j, "a", corev1.PodFailed, -1)}
		},
		check: func(t *testing.T, f *fixture) {
			if f.count("create", "pods") != 0 {
				t.Error("replaced the failed pod before the back-off")
			}
			j := f.job(t, "pi")
			if j.Status.Failed != 1 || j.Status.Active != 0 {
				t.Errorf("status = %+v", j.Status)
			}
			if r := f.c.backoffRecord("ns/pi"); r.failuresAfterLastSuccess != 1 {
				t.Errorf("backoff record = %+v", r)
			}
		},
	}, {
		name: "pod failure policy FailJob",
		job: newJob(func(j *batchv1.Job) {
			j.Spec.PodReplacementPolicy = new(batchv1.Failed)
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action:      batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}},
			}}}
		}),
		pods: func(j *batchv1.Job) []*corev1.Pod {
			return []*corev1.Pod{newPodOf(j, "a", corev1.PodFailed, -1)}
		},
		check: func(t *testing.T, f *fixture) {
			j := f.job(t, "pi")
			c := condition(j, batchv1.JobFailed)
			if c == nil || c.Reason != "PodFailurePolicy" || c.Message != "Container pi for pod ns/a failed with exit code 1 matching FailJob rule at index 0" {
				t.Fatalf("conditions = %+v", j.Status.Conditions)
			}
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var pods []*corev1.Pod
			if tc.pods != nil {
				pods = tc.pods(tc.job)
			}
			f := newFixture(t, tc.job, pods...)
			if err := f.c.sync(context.Background(), "ns/pi"); err != nil {
				t.Fatal(err)
			}
			tc.check(t, f)
		})
	}
}

// TestSyncWaitsForExpectations: pods created but not in the cache yet are
// not created again.
func TestSyncWaitsForExpectations(t *testing.T) {
	f := newFixture(t, newJob(nil))
	ctx := context.Background()
	if err := f.c.sync(ctx, "ns/pi"); err != nil {
		t.Fatal(err)
	}
	// The cache still shows no pods.
	if err := f.c.sync(ctx, "ns/pi"); err != nil {
		t.Fatal(err)
	}
	if n := f.count("create", "pods"); n != 2 {
		t.Errorf("created %d pods, want 2", n)
	}
}

func TestBackoffRemaining(t *testing.T) {
	base, limit := 10*time.Second, 6*time.Minute
	cases := []struct {
		failures int32
		ago      time.Duration
		want     time.Duration
	}{
		{0, 0, 0},
		{1, 0, 10 * time.Second},
		{1, 4 * time.Second, 6 * time.Second},
		{2, 0, 20 * time.Second},
		{3, 0, 40 * time.Second},
		{7, 0, 6 * time.Minute}, // 640s capped
		{30, time.Minute, 5 * time.Minute},
		{1, time.Minute, 0},
	}
	for _, tc := range cases {
		r := backoffRecord{failuresAfterLastSuccess: tc.failures, lastFailureTime: t0.Add(-tc.ago)}
		if got := r.remaining(t0, base, limit); got != tc.want {
			t.Errorf("%d failures %v ago: remaining %v, want %v", tc.failures, tc.ago, got, tc.want)
		}
	}
}

func TestIndexes(t *testing.T) {
	cases := []struct {
		in    string
		limit int
		want  string
	}{
		{"", 10, ""},
		{"0", 10, "0"},
		{"0,1,2,5", 10, "0-2,5"},
		{"1-3,7,8", 10, "1-3,7-8"},
		{"1-3,7,8", 8, "1-3,7"},
		{"x,2,3-a", 10, "2"},
	}
	for _, tc := range cases {
		if got := formatIndexes(parseIndexes(tc.in, tc.limit)); got != tc.want {
			t.Errorf("parse/format(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
	if got := pendingIndexes(5, sets.New(0, 2), nil, 2); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("pendingIndexes = %v", got)
	}
}

func TestSuccessPolicy(t *testing.T) {
	cases := []struct {
		rules     []batchv1.SuccessPolicyRule
		succeeded []int
		want      string
	}{
		{[]batchv1.SuccessPolicyRule{{SucceededIndexes: new("0-2")}}, []int{0, 1}, ""},
		{[]batchv1.SuccessPolicyRule{{SucceededIndexes: new("0-2")}}, []int{0, 1, 2}, "Matched rules at index 0"},
		{[]batchv1.SuccessPolicyRule{{SucceededCount: new(int32(5))}, {SucceededIndexes: new("3"), SucceededCount: new(int32(1))}}, []int{3}, "Matched rules at index 1"},
	}
	for i, tc := range cases {
		msg, met := matchSuccessPolicy(&batchv1.SuccessPolicy{Rules: tc.rules}, 10, sets.New(tc.succeeded...))
		if msg != tc.want || met != (tc.want != "") {
			t.Errorf("case %d: got %q %v, want %q", i, msg, met, tc.want)
		}
	}
}
