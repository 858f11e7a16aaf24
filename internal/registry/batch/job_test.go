package batch

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/registry/podspec"
	"skiff.dev/skiff/internal/registry/store"
)

func kind(t *testing.T, resource string) *store.Kind {
	t.Helper()
	for _, k := range Kinds() {
		if k.Resource.Resource == resource {
			return k
		}
	}
	t.Fatalf("no kind %q", resource)
	return nil
}

func defaulted[T runtime.Object](obj T) T {
	scheme := runtime.NewScheme()
	RegisterDefaults(scheme)
	scheme.Default(obj)
	return obj
}

func podTemplate(restart corev1.RestartPolicy) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		RestartPolicy: restart,
		Containers:    []corev1.Container{{Name: "pi", Image: "perl:5.34"}},
	}}
}

// ownErrors renders errs, leaving out those the pod template validation
// (another package's business) reports for tmpl at path.
func ownErrors(errs field.ErrorList, tmpl *corev1.PodTemplateSpec, path *field.Path) []string {
	pod := map[string]bool{}
	for _, e := range podspec.ValidatePodTemplateSpec(tmpl, path) {
		pod[e.Error()] = true
	}
	var out []string
	for _, e := range errs {
		if !pod[e.Error()] {
			out = append(out, e.Error())
		}
	}
	return out
}

func checkErrors(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n got  %q\n want %q", got, want)
	}
}

func columnNames(k *store.Kind, wide bool) string {
	var names []string
	for _, c := range k.Columns {
		if (c.Priority == 0) != wide {
			names = append(names, strings.ToUpper(c.Name))
		}
	}
	return strings.Join(names, " ")
}

func TestKinds(t *testing.T) {
	jobs, cronjobs := kind(t, "jobs"), kind(t, "cronjobs")
	if jobs.Kind != "Job" || jobs.Resource.Group != "batch" || !jobs.Namespaced || len(jobs.ShortNames) != 0 || !slices.Equal(jobs.Categories, []string{"all"}) {
		t.Errorf("jobs: %+v", jobs)
	}
	if cronjobs.Kind != "CronJob" || cronjobs.Resource.Group != "batch" || !cronjobs.Namespaced || !slices.Equal(cronjobs.ShortNames, []string{"cj"}) || !slices.Equal(cronjobs.Categories, []string{"all"}) {
		t.Errorf("cronjobs: %+v", cronjobs)
	}
	for _, tc := range []struct{ resource, columns, wide string }{
		{"jobs", "STATUS COMPLETIONS DURATION AGE", "CONTAINERS IMAGES SELECTOR"},
		{"cronjobs", "SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE", "CONTAINERS IMAGES SELECTOR"},
	} {
		k := kind(t, tc.resource)
		if got := columnNames(k, false); got != tc.columns {
			t.Errorf("%s columns: got %q, want %q", tc.resource, got, tc.columns)
		}
		if got := columnNames(k, true); got != tc.wide {
			t.Errorf("%s wide columns: got %q, want %q", tc.resource, got, tc.wide)
		}
	}
}

func TestJobDefaults(t *testing.T) {
	policy := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action:          batchv1.PodFailurePolicyActionIgnore,
		OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
	}}}
	for _, tc := range []struct {
		name                              string
		spec                              batchv1.JobSpec
		completions, parallelism, backoff *int32
		replacement                       batchv1.PodReplacementPolicy
	}{
		{"non-parallel", batchv1.JobSpec{}, new(int32(1)), new(int32(1)), new(int32(6)), batchv1.TerminatingOrFailed},
		{"fixed completions", batchv1.JobSpec{Completions: new(int32(5))}, new(int32(5)), new(int32(1)), new(int32(6)), batchv1.TerminatingOrFailed},
		{"work queue", batchv1.JobSpec{Parallelism: new(int32(3))}, nil, new(int32(3)), new(int32(6)), batchv1.TerminatingOrFailed},
		{"backoff per index", batchv1.JobSpec{BackoffLimitPerIndex: new(int32(1))}, new(int32(1)), new(int32(1)), new(int32(math.MaxInt32)), batchv1.TerminatingOrFailed},
		{"pod failure policy", batchv1.JobSpec{PodFailurePolicy: policy}, new(int32(1)), new(int32(1)), new(int32(6)), batchv1.Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := defaulted(&batchv1.Job{Spec: *tc.spec.DeepCopy()})
			eq := func(a, b *int32) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
			if !eq(j.Spec.Completions, tc.completions) || !eq(j.Spec.Parallelism, tc.parallelism) || !eq(j.Spec.BackoffLimit, tc.backoff) {
				t.Errorf("completions %v parallelism %v backoffLimit %v", j.Spec.Completions, j.Spec.Parallelism, j.Spec.BackoffLimit)
			}
			if *j.Spec.CompletionMode != batchv1.NonIndexedCompletion || *j.Spec.Suspend || j.Spec.ManualSelector != nil {
				t.Errorf("completionMode %v suspend %v manualSelector %v", *j.Spec.CompletionMode, *j.Spec.Suspend, j.Spec.ManualSelector)
			}
			if *j.Spec.PodReplacementPolicy != tc.replacement {
				t.Errorf("podReplacementPolicy: got %s, want %s", *j.Spec.PodReplacementPolicy, tc.replacement)
			}
			if p := j.Spec.PodFailurePolicy; p != nil && p.Rules[0].OnPodConditions[0].Status != corev1.ConditionTrue {
				t.Errorf("pod condition pattern status: got %q", p.Rules[0].OnPodConditions[0].Status)
			}
		})
	}
}

func newJob(name string, restart corev1.RestartPolicy) *batchv1.Job {
	j := defaulted(&batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       batchv1.JobSpec{Template: podTemplate(restart)},
	})
	return j
}

func TestJobPrepareForCreate(t *testing.T) {
	k := kind(t, "jobs")
	j := newJob("pi", corev1.RestartPolicyNever)
	k.PrepareForCreate(context.Background(), j)
	uid := string(j.UID)
	if uid == "" {
		t.Fatal("no UID generated")
	}
	wantLabels := map[string]string{
		"batch.kubernetes.io/controller-uid": uid,
		"batch.kubernetes.io/job-name":       "pi",
		"controller-uid":                     uid,
		"job-name":                           "pi",
	}
	if !mapsEqual(j.Spec.Template.Labels, wantLabels) {
		t.Errorf("template labels: got %v", j.Spec.Template.Labels)
	}
	if !mapsEqual(j.Labels, wantLabels) {
		t.Errorf("job labels: got %v", j.Labels)
	}
	if j.Spec.Selector == nil || !mapsEqual(j.Spec.Selector.MatchLabels, map[string]string{"batch.kubernetes.io/controller-uid": uid}) {
		t.Errorf("selector: got %v", j.Spec.Selector)
	}
	if j.Spec.ManualSelector != nil {
		t.Errorf("manualSelector: got %v, want unset", *j.Spec.ManualSelector)
	}
	checkErrors(t, ownErrors(k.Validate(context.Background(), j), &j.Spec.Template, field.NewPath("spec", "template")), nil)

	// A UID given by the generic registry is kept; a Job with its own labels
	// keeps them.
	own := newJob("pi", corev1.RestartPolicyNever)
	own.UID = types.UID("1234")
	own.Spec.Template.Labels = map[string]string{"app": "pi"}
	own = defaulted(own)
	k.PrepareForCreate(context.Background(), own)
	if own.UID != "1234" || own.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"] != "1234" {
		t.Errorf("uid: got %q, selector %v", own.UID, own.Spec.Selector)
	}
	if !mapsEqual(own.Labels, map[string]string{"app": "pi"}) {
		t.Errorf("job labels: got %v", own.Labels)
	}

	manual := newJob("pi", corev1.RestartPolicyNever)
	manual.Spec.ManualSelector = new(true)
	manual.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
	manual.Spec.Template.Labels = map[string]string{"app": "pi"}
	k.PrepareForCreate(context.Background(), manual)
	if len(manual.Spec.Template.Labels) != 1 || len(manual.Spec.Selector.MatchLabels) != 1 {
		t.Errorf("manual selector changed: labels %v selector %v", manual.Spec.Template.Labels, manual.Spec.Selector)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// createdJob is a Job as PrepareForCreate leaves it, with a fixed UID.
func createdJob() *batchv1.Job {
	j := newJob("pi", corev1.RestartPolicyNever)
	j.UID = "uid-1"
	prepareJobForCreate(j)
	return j
}

func TestJobValidation(t *testing.T) {
	tmplPath := field.NewPath("spec", "template")
	for _, tc := range []struct {
		name   string
		mutate func(*batchv1.Job)
		want   []string
	}{
		{"valid", func(*batchv1.Job) {}, nil},
		{"restart always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways }, []string{
			"spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
		}},
		{"restart on failure with pod failure policy", func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			j.Spec.PodReplacementPolicy = new(batchv1.Failed)
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42},
				},
			}}}
		}, []string{
			"spec.template.spec.restartPolicy: Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified",
		}},
		{"negative counts", func(j *batchv1.Job) {
			j.Spec.BackoffLimit = new(int32(-1))
			j.Spec.Parallelism = new(int32(-2))
		}, []string{
			"spec.parallelism: Invalid value: -2: must be greater than or equal to 0",
			"spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"conflicting job-name label", func(j *batchv1.Job) { j.Spec.Template.Labels["job-name"] = "other" }, []string{
			"spec.template.metadata.labels[job-name]: Invalid value: {\"batch.kubernetes.io/controller-uid\":\"uid-1\",\"batch.kubernetes.io/job-name\":\"pi\",\"controller-uid\":\"uid-1\",\"job-name\":\"other\"}: must be 'pi'",
		}},
		{"missing generated label", func(j *batchv1.Job) { delete(j.Spec.Template.Labels, "batch.kubernetes.io/job-name") }, []string{
			"spec.template.metadata.labels[batch.kubernetes.io/job-name]: Required value: pi",
		}},
		{"foreign selector", func(j *batchv1.Job) {
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"controller-uid": "uid-2"}}
		}, []string{
			"spec.selector: Invalid value: {\"matchLabels\":{\"controller-uid\":\"uid-2\"}}: `selector` not auto-generated",
			"spec.template.metadata.labels: Invalid value: {\"batch.kubernetes.io/controller-uid\":\"uid-1\",\"batch.kubernetes.io/job-name\":\"pi\",\"controller-uid\":\"uid-1\",\"job-name\":\"pi\"}: `selector` does not match template `labels`",
		}},
		{"manual selector not matching", func(j *batchv1.Job) {
			j.Spec.ManualSelector = new(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		}, []string{
			"spec.template.metadata.labels: Invalid value: {\"batch.kubernetes.io/controller-uid\":\"uid-1\",\"batch.kubernetes.io/job-name\":\"pi\",\"controller-uid\":\"uid-1\",\"job-name\":\"pi\"}: `selector` does not match template `labels`",
		}},
		{"manual without selector", func(j *batchv1.Job) {
			j.Spec.ManualSelector = new(true)
			j.Spec.Selector = nil
		}, []string{
			"spec.selector: Required value",
			"spec.template.metadata.labels: Invalid value: {\"batch.kubernetes.io/controller-uid\":\"uid-1\",\"batch.kubernetes.io/job-name\":\"pi\",\"controller-uid\":\"uid-1\",\"job-name\":\"pi\"}: `selector` does not match template `labels`",
		}},
		{"indexed without completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
			j.Spec.Completions = nil
		}, []string{
			"spec.completions: Required value: when completion mode is Indexed",
		}},
		{"unknown completion mode", func(j *batchv1.Job) { j.Spec.CompletionMode = new(batchv1.CompletionMode("Ordered")) }, []string{
			"spec.completionMode: Unsupported value: \"Ordered\": supported values: \"NonIndexed\", \"Indexed\"",
		}},
		{"per-index limits need Indexed", func(j *batchv1.Job) {
			j.Spec.BackoffLimitPerIndex = new(int32(1))
			j.Spec.MaxFailedIndexes = new(int32(2))
		}, []string{
			"spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
			"spec.maxFailedIndexes: Invalid value: 2: requires indexed completion mode",
		}},
		{"indexed hostname too long", func(j *batchv1.Job) {
			j.Name = strings.Repeat("a", 62)
			j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
			j.Spec.Completions = new(int32(10))
			j.Spec.Template.Labels["job-name"] = j.Name
			j.Spec.Template.Labels["batch.kubernetes.io/job-name"] = j.Name
		}, []string{
			"metadata.name: Invalid value: \"" + strings.Repeat("a", 62) + "\": will not able to create pod with invalid DNS label: " + strings.Repeat("a", 62) + "-9",
		}},
		{"success policy needs Indexed", func(j *batchv1.Job) {
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: new(int32(1))}}}
		}, []string{
			"spec.successPolicy: Invalid value: {\"rules\":[{\"succeededCount\":1}]}: requires indexed completion mode",
		}},
		{"success policy indexes", func(j *batchv1.Job) {
			j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
			j.Spec.Completions = new(int32(5))
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
				{SucceededIndexes: new("0-2,4"), SucceededCount: new(int32(4))},
				{SucceededIndexes: new("3,1")},
				{},
			}}
		}, []string{
			"spec.successPolicy.rules[1].succeededIndexes: Invalid value: \"3,1\": error parsing succeededIndexes: non-increasing order, previous: 3, current: 1",
			"spec.successPolicy.rules[2]: Required value: at least one of succeededCount or succeededIndexes must be specified",
		}},
		{"pod failure policy rules", func(j *batchv1.Job) {
			j.Spec.PodReplacementPolicy = new(batchv1.Failed)
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{Action: "", OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					ContainerName: new("main"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{3, 0, 3},
				}},
				{Action: batchv1.PodFailurePolicyActionFailIndex, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: "Ready", Status: "Maybe"}}},
				{Action: batchv1.PodFailurePolicyActionIgnore},
			}}
		}, []string{
			"spec.podFailurePolicy.rules[0].action: Required value: valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]",
			"spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: \"main\": must be one of the container or initContainer names in the pod template",
			"spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator",
			"spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 3",
			"spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [3,0,3]: must be ordered",
			"spec.podFailurePolicy.rules[1].action: Invalid value: \"FailIndex\": requires the backoffLimitPerIndex to be set",
			"spec.podFailurePolicy.rules[1].onPodConditions[0].status: Unsupported value: \"Maybe\": supported values: \"False\", \"True\", \"Unknown\"",
			"spec.podFailurePolicy.rules[2]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
		}},
		{"replacement policy with pod failure policy", func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{}
		}, []string{
			"spec.podReplacementPolicy: Unsupported value: \"TerminatingOrFailed\": supported values: \"Failed\"",
		}},
		{"managed by", func(j *batchv1.Job) { j.Spec.ManagedBy = new("kueue") }, []string{
			"spec.managedBy: Invalid value: \"kueue\": must be a domain-prefixed path (such as \"acme.io/foo\")",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := createdJob()
			tc.mutate(j)
			checkErrors(t, ownErrors(kind(t, "jobs").Validate(context.Background(), j), &j.Spec.Template, tmplPath), tc.want)
		})
	}
}

func TestJobUpdate(t *testing.T) {
	tmplPath := field.NewPath("spec", "template")
	update := func(j, old *batchv1.Job) []string {
		return ownErrors(kind(t, "jobs").ValidateUpdate(context.Background(), j, old), &j.Spec.Template, tmplPath)
	}
	old := createdJob()

	resumed := old.DeepCopy()
	resumed.Spec.Suspend = new(true)
	resumed.Spec.Parallelism = new(int32(3))
	resumed.Spec.ActiveDeadlineSeconds = new(int64(60))
	checkErrors(t, update(resumed, old), nil)

	completions := old.DeepCopy()
	completions.Spec.Completions = new(int32(4))
	checkErrors(t, update(completions, old), []string{"spec.completions: Invalid value: 4: field is immutable"})

	image := old.DeepCopy()
	image.Spec.Template.Spec.Containers[0].Image = "perl:5.40"
	got := update(image, old)
	if len(got) != 1 || !strings.HasPrefix(got[0], "spec.template: Invalid value: ") || !strings.HasSuffix(got[0], ": field is immutable") {
		t.Errorf("template change: got %q", got)
	}

	// A suspended Job that never started may move its pods elsewhere.
	suspended := old.DeepCopy()
	suspended.Spec.Suspend = new(true)
	moved := suspended.DeepCopy()
	moved.Spec.Template.Spec.NodeSelector = map[string]string{"gpu": "h200"}
	moved.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists}}
	checkErrors(t, update(moved, suspended), nil)
	suspended.Status.StartTime = &metav1.Time{Time: time.Now()}
	if got := update(moved, suspended); len(got) != 1 || !strings.HasPrefix(got[0], "spec.template:") {
		t.Errorf("started job template change: got %q", got)
	}

	// Elastic Indexed Jobs scale completions with parallelism.
	indexed := old.DeepCopy()
	indexed.Spec.CompletionMode = new(batchv1.IndexedCompletion)
	scaled := indexed.DeepCopy()
	scaled.Spec.Completions, scaled.Spec.Parallelism = new(int32(4)), new(int32(4))
	checkErrors(t, update(scaled, indexed), nil)
	scaled.Spec.Parallelism = new(int32(2))
	checkErrors(t, update(scaled, indexed), []string{"spec.completions: Invalid value: 4: can only be modified in tandem with spec.parallelism"})

	// Jobs from before the prefixed labels still update.
	legacy := old.DeepCopy()
	delete(legacy.Spec.Template.Labels, "batch.kubernetes.io/job-name")
	delete(legacy.Spec.Template.Labels, "batch.kubernetes.io/controller-uid")
	legacy.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"controller-uid": "uid-1"}}
	relabelled := legacy.DeepCopy()
	relabelled.Labels = map[string]string{"team": "ml"}
	checkErrors(t, update(relabelled, legacy), nil)
}

func TestJobStatusValidation(t *testing.T) {
	j := createdJob()
	j.Status = batchv1.JobStatus{
		Active: -1,
		UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{
			Succeeded: []types.UID{"a", ""},
			Failed:    []types.UID{"a"},
		},
	}
	checkErrors(t, errorStrings(kind(t, "jobs").ValidateStatusUpdate(context.Background(), j, createdJob())), []string{
		"status.active: Invalid value: -1: must be greater than or equal to 0",
		"status.uncountedTerminatedPods.succeeded[1]: Invalid value: \"\": must not be empty",
		"status.uncountedTerminatedPods.failed[0]: Duplicate value: \"a\"",
	})
}

func errorStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestJobRows(t *testing.T) {
	k := kind(t, "jobs")
	now := time.Now()
	ago := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: now.Add(-d)} }
	cond := func(typ batchv1.JobConditionType, status corev1.ConditionStatus) batchv1.JobCondition {
		return batchv1.JobCondition{Type: typ, Status: status}
	}
	base := createdJob()
	base.CreationTimestamp = *ago(10 * time.Minute)

	for _, tc := range []struct {
		name   string
		mutate func(*batchv1.Job)
		status string
		done   string
		took   string
	}{
		{"pending", func(*batchv1.Job) {}, "Running", "0/1", ""},
		{"running", func(j *batchv1.Job) { j.Status.StartTime = ago(90 * time.Second) }, "Running", "0/1", "90s"},
		{"complete", func(j *batchv1.Job) {
			j.Status.StartTime, j.Status.CompletionTime = ago(5*time.Minute), ago(3*time.Minute)
			j.Status.Succeeded = 1
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue), cond(batchv1.JobComplete, corev1.ConditionTrue)}
		}, "Complete", "1/1", "2m"},
		{"failed", func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget, corev1.ConditionTrue), cond(batchv1.JobFailed, corev1.ConditionTrue)}
		}, "Failed", "0/1", ""},
		{"failing", func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget, corev1.ConditionTrue)}
		}, "FailureTarget", "0/1", ""},
		{"terminating", func(j *batchv1.Job) { j.DeletionTimestamp = ago(0) }, "Terminating", "0/1", ""},
		{"suspended", func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuspended, corev1.ConditionTrue)}
		}, "Suspended", "0/1", ""},
		{"resumed", func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuspended, corev1.ConditionFalse)}
		}, "Running", "0/1", ""},
		{"work queue", func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = nil, new(int32(4)) }, "Running", "0/1 of 4", ""},
		{"fixed completions", func(j *batchv1.Job) { j.Spec.Completions, j.Status.Succeeded = new(int32(5)), 2 }, "Running", "2/5", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := base.DeepCopy()
			tc.mutate(j)
			row, err := k.Row(j)
			if err != nil {
				t.Fatal(err)
			}
			want := []interface{}{tc.status, tc.done, tc.took, "10m", "pi", "perl:5.34", "batch.kubernetes.io/controller-uid=uid-1"}
			if !slices.Equal(row, want) {
				t.Errorf("row:\n got  %#v\n want %#v", row, want)
			}
		})
	}

	j := base.DeepCopy()
	j.Status.Succeeded = 3
	if got := k.SelectableFields(j)["status.successful"]; got != "3" {
		t.Errorf("status.successful: got %q", got)
	}
	if w := k.Warnings(context.Background(), &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi.v2"}}); len(w) != 1 || !strings.HasPrefix(w[0], "metadata.name: this is used in Pod names and hostnames") {
		t.Errorf("warnings: %q", w)
	}
}
