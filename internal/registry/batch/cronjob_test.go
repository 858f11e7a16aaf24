package batch

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validCronJob() *batchv1.CronJob {
	return defaulted(&batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "report", Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule:    "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: podTemplate(corev1.RestartPolicyOnFailure)}},
		},
	})
}

var cronTemplatePath = field.NewPath("spec", "jobTemplate", "spec", "template")

func TestCronJobDefaults(t *testing.T) {
	cj := validCronJob()
	s := cj.Spec
	if s.ConcurrencyPolicy != batchv1.AllowConcurrent || s.Suspend == nil || *s.Suspend ||
		s.SuccessfulJobsHistoryLimit == nil || *s.SuccessfulJobsHistoryLimit != 3 ||
		s.FailedJobsHistoryLimit == nil || *s.FailedJobsHistoryLimit != 1 {
		t.Errorf("defaults: %+v", s)
	}
	// The job template is not defaulted like a Job: that happens per Job.
	if js := s.JobTemplate.Spec; js.BackoffLimit != nil || js.Completions != nil || js.CompletionMode != nil {
		t.Errorf("job template got Job defaults: %+v", js)
	}
}

func TestCronJobValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*batchv1.CronJob)
		want   []string
	}{
		{"valid", func(*batchv1.CronJob) {}, nil},
		{"descriptor", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "@hourly" }, nil},
		{"time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = new("Europe/Paris") }, nil},
		{"no schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "" }, []string{"spec.schedule: Required value"}},
		{"bad schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "every minute" }, []string{
			"spec.schedule: Invalid value: \"every minute\": expected exactly 5 fields, found 2: [every minute]",
		}},
		{"bad field", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "61 * * * *" }, []string{
			"spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61",
		}},
		{"bad descriptor", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "@fortnightly" }, []string{
			"spec.schedule: Invalid value: \"@fortnightly\": unrecognized descriptor: @fortnightly",
		}},
		{"TZ in schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "TZ=UTC 0 * * * *" }, []string{
			"spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
		}},
		{"unknown time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = new("Mars/Olympus") }, []string{
			"spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus",
		}},
		{"malformed time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = new("../etc/passwd") }, []string{
			"spec.timeZone: Invalid value: \"../etc/passwd\": unknown time zone ../etc/passwd",
		}},
		{"local time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = new("Local") }, []string{
			"spec.timeZone: Invalid value: \"Local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
		}},
		{"empty time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = new("") }, []string{
			"spec.timeZone: Invalid value: \"\": timeZone must be nil or non-empty string",
		}},
		{"concurrency", func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = "Sometimes" }, []string{
			"spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
		}},
		{"negative limits", func(cj *batchv1.CronJob) {
			cj.Spec.StartingDeadlineSeconds = new(int64(-5))
			cj.Spec.FailedJobsHistoryLimit = new(int32(-1))
		}, []string{
			"spec.startingDeadlineSeconds: Invalid value: -5: must be greater than or equal to 0",
			"spec.failedJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"job template restart always", func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}, []string{
			"spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
		}},
		{"job template selector", func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
			cj.Spec.JobTemplate.Spec.ManualSelector = new(true)
		}, []string{
			"spec.jobTemplate.spec.selector: Invalid value: {\"matchLabels\":{\"a\":\"b\"}}: `selector` will be auto-generated",
			"spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: \"nil\", \"false\"",
		}},
		{"long name", func(cj *batchv1.CronJob) { cj.Name = strings.Repeat("r", 53) }, []string{
			"metadata.name: Invalid value: \"" + strings.Repeat("r", 53) + "\": must be no more than 52 characters",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := validCronJob()
			tc.mutate(cj)
			errs := kind(t, "cronjobs").Validate(context.Background(), cj)
			checkErrors(t, ownErrors(errs, &cj.Spec.JobTemplate.Spec.Template, cronTemplatePath), tc.want)
		})
	}
}

func TestCronJobUpdate(t *testing.T) {
	update := func(cj, old *batchv1.CronJob) []string {
		errs := kind(t, "cronjobs").ValidateUpdate(context.Background(), cj, old)
		return ownErrors(errs, &cj.Spec.JobTemplate.Spec.Template, cronTemplatePath)
	}
	// A schedule with TZ= stored before the rule may stay, but not with timeZone.
	old := validCronJob()
	old.Spec.Schedule = "TZ=UTC 0 * * * *"
	cj := old.DeepCopy()
	cj.Spec.Suspend = new(true)
	checkErrors(t, update(cj, old), nil)
	cj.Spec.TimeZone = new("UTC")
	checkErrors(t, update(cj, old), []string{
		"spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use both timeZone field and TZ or CRON_TZ in schedule",
	})

	// Names longer than 52 characters may still be updated.
	long := validCronJob()
	long.Name = strings.Repeat("r", 60)
	checkErrors(t, update(long.DeepCopy(), long), nil)
}

func TestCronJobRow(t *testing.T) {
	now := time.Now()
	cj := validCronJob()
	cj.CreationTimestamp = metav1.NewTime(now.Add(-2 * time.Hour))
	cj.Status.Active = []corev1.ObjectReference{{Name: "report-1"}}
	cj.Status.LastScheduleTime = &metav1.Time{Time: now.Add(-3 * time.Minute)}
	k := kind(t, "cronjobs")
	row, err := k.Row(cj)
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"*/5 * * * *", "<none>", "False", int64(1), "3m", "120m", "pi", "perl:5.34", "<none>"}
	if !slices.Equal(row, want) {
		t.Errorf("row:\n got  %#v\n want %#v", row, want)
	}

	cj.Spec.TimeZone, cj.Spec.Suspend, cj.Status.LastScheduleTime, cj.Status.Active = new("Asia/Tokyo"), new(true), nil, nil
	row, _ = k.Row(cj)
	want = []interface{}{"*/5 * * * *", "Asia/Tokyo", "True", int64(0), "<none>", "120m", "pi", "perl:5.34", "<none>"}
	if !slices.Equal(row, want) {
		t.Errorf("row:\n got  %#v\n want %#v", row, want)
	}
}
