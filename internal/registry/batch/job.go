package batch

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/uuid"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/registry/store"
)

// The unprefixed labels Kubernetes still puts on a Job's pods, next to
// batchv1.JobNameLabel and batchv1.ControllerUidLabel.
const (
	legacyJobNameLabel       = "job-name"
	legacyControllerUIDLabel = "controller-uid"
)

func jobKind() *store.Kind {
	return &store.Kind{
		Resource:   batchv1.SchemeGroupVersion.WithResource("jobs").GroupResource(),
		Kind:       "Job",
		Namespaced: true,
		// batch/v1 Jobs orphan their pods when a delete names no
		// propagationPolicy (kubectl sends Background).
		GCPolicy:   func(context.Context) rest.GarbageCollectionPolicy { return rest.OrphanDependents },
		New:        func() runtime.Object { return &batchv1.Job{} },
		NewList:    func() runtime.Object { return &batchv1.JobList{} },
		Categories: []string{"all"},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateJob(obj.(*batchv1.Job), jobValidationOptions{requirePrefixedLabels: true})
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateJobUpdate(obj.(*batchv1.Job), old.(*batchv1.Job))
		},
		ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateJobStatus(&obj.(*batchv1.Job).Status, statusPath)
		},
		PrepareForCreate: func(_ context.Context, obj runtime.Object) {
			prepareJobForCreate(obj.(*batchv1.Job))
		},
		Warnings: func(_ context.Context, obj runtime.Object) []string {
			return nameWarnings(obj.(*batchv1.Job).Name)
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Status", Type: "string", Description: "Status of the job."},
			{Name: "Completions", Type: "string", Description: batchv1.JobStatus{}.SwaggerDoc()["succeeded"]},
			{Name: "Duration", Type: "string", Description: "Time required to complete the job."},
			store.AgeColumn,
			containersColumn,
			imagesColumn,
			selectorColumn,
		},
		Row: jobRow,
		SelectableFields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
		},
	}
}

// prepareJobForCreate gives the Job its UID now (the selector is made of it)
// and, unless the user manages the selector, the selector and pod labels
// Kubernetes generates. A Job without labels takes its pods' labels.
func prepareJobForCreate(j *batchv1.Job) {
	if j.UID == "" {
		j.UID = uuid.NewUUID()
	}
	if !ptr.Deref(j.Spec.ManualSelector, false) {
		generateSelector(j)
	}
	if len(j.Labels) == 0 && len(j.Spec.Template.Labels) != 0 {
		j.Labels = maps.Clone(j.Spec.Template.Labels)
	}
}

// generateSelector labels the pod template with the Job's name and UID and
// selects on the UID. Labels the user set already are kept: a conflict is
// reported by validation.
func generateSelector(j *batchv1.Job) {
	t := &j.Spec.Template
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	for key, value := range map[string]string{
		legacyJobNameLabel:         j.Name,
		batchv1.JobNameLabel:       j.Name,
		legacyControllerUIDLabel:   string(j.UID),
		batchv1.ControllerUidLabel: string(j.UID),
	} {
		if _, ok := t.Labels[key]; !ok {
			t.Labels[key] = value
		}
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !ok {
		j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = string(j.UID)
	}
}

func nameWarnings(name string) []string {
	if msgs := utilvalidation.IsDNS1123Label(name); len(msgs) != 0 {
		return []string{fmt.Sprintf("metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; a DNS label is recommended: %v", msgs)}
	}
	return nil
}

type jobValidationOptions struct {
	// requirePrefixedLabels asks for the batch.kubernetes.io/ labels on the
	// pods, which Jobs created before they existed lack.
	requirePrefixedLabels bool
	// allowMutableSchedulingDirectives lets a suspended Job that never
	// started change where its pods may run.
	allowMutableSchedulingDirectives bool
}

func validateJob(j *batchv1.Job, opts jobValidationOptions) field.ErrorList {
	errs := validateGeneratedSelector(j, opts.requirePrefixedLabels)
	errs = append(errs, validateJobSpecWithSelector(&j.Spec, specPath)...)
	// Indexed pods are named and hostnamed <job>-<index>.
	if isIndexed(&j.Spec) && ptr.Deref(j.Spec.Completions, 0) > 0 {
		hostname := fmt.Sprintf("%s-%d", j.Name, *j.Spec.Completions-1)
		if len(utilvalidation.IsDNS1123Label(hostname)) != 0 {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), j.Name, fmt.Sprintf("will not able to create pod with invalid DNS label: %s", hostname)))
		}
	}
	return errs
}

func validateJobSpecWithSelector(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	errs := validateJobSpec(spec, p)
	if spec.Selector == nil {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
	}
	// Generated or not, the selector must match the pods the Job makes.
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !sel.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

// validateGeneratedSelector checks that a generated selector and the pod
// labels still name this Job (the user may have set conflicting ones).
func validateGeneratedSelector(j *batchv1.Job, requirePrefixedLabels bool) field.ErrorList {
	if ptr.Deref(j.Spec.ManualSelector, false) || j.Spec.Selector == nil {
		return nil
	}
	var errs field.ErrorList
	if j.UID == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	metaPath := specPath.Child("template", "metadata")
	want := []struct{ key, value string }{
		{legacyControllerUIDLabel, string(j.UID)},
		{legacyJobNameLabel, j.Name},
	}
	if requirePrefixedLabels {
		want = append(want, struct{ key, value string }{batchv1.ControllerUidLabel, string(j.UID)}, struct{ key, value string }{batchv1.JobNameLabel, j.Name})
	}
	expected := labels.Set{}
	for _, w := range want {
		errs = append(errs, validateHasLabel(j.Spec.Template.Labels, metaPath, w.key, w.value)...)
		expected[w.key] = w.value
	}
	if sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector); err == nil && !sel.Matches(expected) {
		errs = append(errs, field.Invalid(specPath.Child("selector"), j.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

func validateHasLabel(lbls map[string]string, metaPath *field.Path, key, value string) field.ErrorList {
	p := metaPath.Child("labels").Key(key)
	actual, ok := lbls[key]
	switch {
	case !ok:
		return field.ErrorList{field.Required(p, value)}
	case actual != value:
		return field.ErrorList{field.Invalid(p, lbls, fmt.Sprintf("must be '%s'", value))}
	}
	return nil
}

// validateJobUpdate validates the updated Job and what may not change:
// selector, template (but for scheduling directives of a suspended Job that
// never ran), completions (but for Indexed Jobs scaled in tandem with
// parallelism), completionMode, podFailurePolicy, backoffLimitPerIndex,
// managedBy and successPolicy.
func validateJobUpdate(j, old *batchv1.Job) field.ErrorList {
	_, hadName := old.Spec.Template.Labels[batchv1.JobNameLabel]
	_, hadUID := old.Spec.Template.Labels[batchv1.ControllerUidLabel]
	opts := jobValidationOptions{
		requirePrefixedLabels:            hadName && hadUID,
		allowMutableSchedulingDirectives: ptr.Deref(old.Spec.Suspend, false) && old.Status.StartTime == nil,
	}
	errs := validateJob(j, opts)

	spec, oldSpec := &j.Spec, &old.Spec
	errs = append(errs, validateCompletionsUpdate(spec, oldSpec, specPath.Child("completions"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.Selector, oldSpec.Selector, specPath.Child("selector"))...)
	errs = append(errs, validateTemplateUpdate(&spec.Template, &oldSpec.Template, opts.allowMutableSchedulingDirectives)...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.CompletionMode, oldSpec.CompletionMode, specPath.Child("completionMode"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.PodFailurePolicy, oldSpec.PodFailurePolicy, specPath.Child("podFailurePolicy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.BackoffLimitPerIndex, oldSpec.BackoffLimitPerIndex, specPath.Child("backoffLimitPerIndex"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.ManagedBy, oldSpec.ManagedBy, specPath.Child("managedBy"))...)
	return append(errs, apivalidation.ValidateImmutableField(spec.SuccessPolicy, oldSpec.SuccessPolicy, specPath.Child("successPolicy"))...)
}

// validateCompletionsUpdate keeps completions fixed, except that an Indexed
// Job may change them together with parallelism (elastic Indexed Jobs).
func validateCompletionsUpdate(spec, old *batchv1.JobSpec, p *field.Path) field.ErrorList {
	if !isIndexed(spec) {
		return apivalidation.ValidateImmutableField(spec.Completions, old.Completions, p)
	}
	if apiequality.Semantic.DeepEqual(spec.Completions, old.Completions) || spec.Completions == nil {
		return nil
	}
	if *spec.Completions != ptr.Deref(spec.Parallelism, 0) {
		return field.ErrorList{field.Invalid(p, spec.Completions, "can only be modified in tandem with spec.parallelism")}
	}
	return nil
}

func validateTemplateUpdate(t, old *corev1.PodTemplateSpec, allowSchedulingChanges bool) field.ErrorList {
	if allowSchedulingChanges {
		old = old.DeepCopy()
		switch {
		case t.Spec.Affinity == nil && old.Spec.Affinity != nil:
			// The affinity may go if node affinity was all it held.
			old.Spec.Affinity.NodeAffinity = nil
			if *old.Spec.Affinity == (corev1.Affinity{}) {
				old.Spec.Affinity = nil
			}
		case t.Spec.Affinity != nil && old.Spec.Affinity == nil:
			old.Spec.Affinity = &corev1.Affinity{NodeAffinity: t.Spec.Affinity.NodeAffinity}
		case t.Spec.Affinity != nil && old.Spec.Affinity != nil:
			old.Spec.Affinity.NodeAffinity = t.Spec.Affinity.NodeAffinity
		}
		old.Spec.NodeSelector = t.Spec.NodeSelector
		old.Spec.Tolerations = t.Spec.Tolerations
		old.Annotations = t.Annotations
		old.Labels = t.Labels
		old.Spec.SchedulingGates = t.Spec.SchedulingGates
	}
	return apivalidation.ValidateImmutableField(t, old, specPath.Child("template"))
}

// validateJobStatus checks the counters a Job's status holds.
func validateJobStatus(s *batchv1.JobStatus, p *field.Path) field.ErrorList {
	errs := nonNegative(int64(s.Active), p.Child("active"))
	errs = append(errs, nonNegative(int64(s.Succeeded), p.Child("succeeded"))...)
	errs = append(errs, nonNegative(int64(s.Failed), p.Child("failed"))...)
	errs = append(errs, nonNegativePtr(s.Ready, p.Child("ready"))...)
	errs = append(errs, nonNegativePtr(s.Terminating, p.Child("terminating"))...)
	if u := s.UncountedTerminatedPods; u != nil {
		up := p.Child("uncountedTerminatedPods")
		seen := map[string]bool{}
		for _, list := range []struct {
			name string
			uids []string
		}{{"succeeded", uidStrings(u.Succeeded)}, {"failed", uidStrings(u.Failed)}} {
			for i, uid := range list.uids {
				ip := up.Child(list.name).Index(i)
				switch {
				case uid == "":
					errs = append(errs, field.Invalid(ip, uid, "must not be empty"))
				case seen[uid]:
					errs = append(errs, field.Duplicate(ip, uid))
				default:
					seen[uid] = true
				}
			}
		}
	}
	return errs
}

func jobRow(obj runtime.Object) ([]interface{}, error) {
	j := obj.(*batchv1.Job)
	var completions string
	switch parallelism := ptr.Deref(j.Spec.Parallelism, 0); {
	case j.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	case parallelism > 1:
		completions = fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, parallelism)
	default:
		completions = fmt.Sprintf("%d/1", j.Status.Succeeded)
	}
	var took string
	switch {
	case j.Status.StartTime == nil:
	case j.Status.CompletionTime == nil:
		took = duration.HumanDuration(time.Since(j.Status.StartTime.Time))
	default:
		took = duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
	}
	names, images := containerCells(j.Spec.Template.Spec.Containers)
	return []interface{}{
		jobStatus(j), completions, took, store.Age(j.CreationTimestamp),
		names, images, metav1.FormatLabelSelector(j.Spec.Selector),
	}, nil
}

// jobStatus is the STATUS column: the first of these that holds.
func jobStatus(j *batchv1.Job) string {
	switch {
	case hasCondition(j, batchv1.JobComplete):
		return "Complete"
	case hasCondition(j, batchv1.JobFailed):
		return "Failed"
	case j.DeletionTimestamp != nil:
		return "Terminating"
	case hasCondition(j, batchv1.JobSuspended):
		return "Suspended"
	case hasCondition(j, batchv1.JobFailureTarget):
		return "FailureTarget"
	case hasCondition(j, batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	default:
		return "Running"
	}
}

// hasCondition reports whether the first condition of type t is True.
func hasCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
