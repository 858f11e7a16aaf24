package batch

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	// CronJob time zones must resolve on hosts without a zoneinfo database.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/registry/store"
)

// maxCronJobNameLength leaves room for the 11 characters ("-" and a
// timestamp) the controller appends to name each Job.
const maxCronJobNameLength = utilvalidation.DNS1035LabelMaxLength - 11

// validTimeZonePart is what an IANA zone name component may hold (digits and
// '+' are tolerated for legacy names).
var validTimeZonePart = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

func cronJobKind() *store.Kind {
	return &store.Kind{
		Resource:   batchv1.SchemeGroupVersion.WithResource("cronjobs").GroupResource(),
		Kind:       "CronJob",
		Namespaced: true,
		New:        func() runtime.Object { return &batchv1.CronJob{} },
		NewList:    func() runtime.Object { return &batchv1.CronJobList{} },
		ShortNames: []string{"cj"},
		Categories: []string{"all"},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			cj := obj.(*batchv1.CronJob)
			errs := validateCronJobSpec(&cj.Spec, nil, specPath)
			if len(cj.Name) > maxCronJobNameLength {
				errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), cj.Name, fmt.Sprintf("must be no more than %d characters", maxCronJobNameLength)))
			}
			return errs
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			// The name length is not checked again: older, longer names may
			// still be updated and deleted.
			return validateCronJobSpec(&obj.(*batchv1.CronJob).Spec, &old.(*batchv1.CronJob).Spec, specPath)
		},
		Warnings: func(_ context.Context, obj runtime.Object) []string {
			return nameWarnings(obj.(*batchv1.CronJob).Name)
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Schedule", Type: "string", Description: batchv1.CronJobSpec{}.SwaggerDoc()["schedule"]},
			{Name: "Timezone", Type: "string", Description: batchv1.CronJobSpec{}.SwaggerDoc()["timeZone"]},
			{Name: "Suspend", Type: "boolean", Description: batchv1.CronJobSpec{}.SwaggerDoc()["suspend"]},
			{Name: "Active", Type: "integer", Description: batchv1.CronJobStatus{}.SwaggerDoc()["active"]},
			{Name: "Last Schedule", Type: "string", Description: batchv1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]},
			store.AgeColumn,
			containersColumn,
			imagesColumn,
			selectorColumn,
		},
		Row: cronJobRow,
	}
}

func cronJobRow(obj runtime.Object) ([]interface{}, error) {
	cj := obj.(*batchv1.CronJob)
	last := "<none>"
	if cj.Status.LastScheduleTime != nil {
		last = store.Age(*cj.Status.LastScheduleTime)
	}
	tz := "<none>"
	if cj.Spec.TimeZone != nil {
		tz = *cj.Spec.TimeZone
	}
	suspend := "<unset>"
	if cj.Spec.Suspend != nil {
		suspend = "False"
		if *cj.Spec.Suspend {
			suspend = "True"
		}
	}
	t := &cj.Spec.JobTemplate.Spec
	names, images := containerCells(t.Template.Spec.Containers)
	return []interface{}{
		cj.Spec.Schedule, tz, suspend, int64(len(cj.Status.Active)), last, store.Age(cj.CreationTimestamp),
		names, images, metav1.FormatLabelSelector(t.Selector),
	}, nil
}

// validateCronJobSpec checks a CronJob spec; old is the stored spec on update.
func validateCronJobSpec(spec, old *batchv1.CronJobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Schedule == "" {
		errs = append(errs, field.Required(p.Child("schedule"), ""))
	} else {
		// TZ= in the schedule is only tolerated where it already was.
		allowTZ := old != nil && strings.Contains(old.Schedule, "TZ")
		errs = append(errs, validateSchedule(spec.Schedule, allowTZ, spec.TimeZone, p.Child("schedule"))...)
	}
	errs = append(errs, nonNegativePtr(spec.StartingDeadlineSeconds, p.Child("startingDeadlineSeconds"))...)
	if old == nil || !ptr.Equal(old.TimeZone, spec.TimeZone) {
		errs = append(errs, validateTimeZone(spec.TimeZone, p.Child("timeZone"))...)
	}
	errs = append(errs, validateConcurrencyPolicy(spec.ConcurrencyPolicy, p.Child("concurrencyPolicy"))...)
	errs = append(errs, validateJobTemplate(&spec.JobTemplate, p.Child("jobTemplate"))...)
	// Zero is valid: keep no finished Jobs.
	errs = append(errs, nonNegativePtr(spec.SuccessfulJobsHistoryLimit, p.Child("successfulJobsHistoryLimit"))...)
	return append(errs, nonNegativePtr(spec.FailedJobsHistoryLimit, p.Child("failedJobsHistoryLimit"))...)
}

// validateSchedule checks a standard 5-field cron schedule or a descriptor
// such as @hourly, with the parser the CronJob controller uses.
func validateSchedule(schedule string, allowTZ bool, timeZone *string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if _, err := cron.ParseStandard(schedule); err != nil {
		errs = append(errs, field.Invalid(p, schedule, err.Error()))
	}
	hasTZ := strings.Contains(schedule, "TZ")
	switch {
	case allowTZ && hasTZ && timeZone != nil:
		errs = append(errs, field.Invalid(p, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
	case !allowTZ && hasTZ:
		errs = append(errs, field.Invalid(p, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	}
	return errs
}

// validateTimeZone checks an IANA time zone name that this server can load.
func validateTimeZone(tz *string, p *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(p, tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !validTimeZonePart.MatchString(part) {
			return field.ErrorList{field.Invalid(p, tz, fmt.Sprintf("unknown time zone %s", *tz))}
		}
	}
	var errs field.ErrorList
	if strings.EqualFold(*tz, "Local") {
		errs = append(errs, field.Invalid(p, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		errs = append(errs, field.Invalid(p, tz, err.Error()))
	}
	return errs
}

func validateConcurrencyPolicy(policy batchv1.ConcurrencyPolicy, p *field.Path) field.ErrorList {
	switch policy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
		return nil
	case "":
		return field.ErrorList{field.Required(p, "")}
	default:
		return field.ErrorList{field.NotSupported(p, policy, []batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent})}
	}
}

// validateJobTemplate checks a CronJob's job template like a Job's spec; its
// selector is always generated, for each Job.
func validateJobTemplate(t *batchv1.JobTemplateSpec, p *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabels(t.Labels, p.Child("metadata", "labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, p.Child("metadata", "annotations"))...)
	errs = append(errs, validateJobSpec(&t.Spec, p.Child("spec"))...)
	if t.Spec.Selector != nil {
		errs = append(errs, field.Invalid(p.Child("spec", "selector"), t.Spec.Selector, "`selector` will be auto-generated"))
	}
	if ptr.Deref(t.Spec.ManualSelector, false) {
		errs = append(errs, field.NotSupported(p.Child("spec", "manualSelector"), t.Spec.ManualSelector, []string{"nil", "false"}))
	}
	return errs
}
