package batch

import (
	"maps"
	"math"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"skiff.dev/skiff/internal/registry/podspec"
)

// setDefaultsJob fills a Job as Kubernetes' batch/v1 defaulting does.
// manualSelector stays unset: the selector is generated on create.
func setDefaultsJob(j *batchv1.Job) {
	spec := &j.Spec
	// A non-parallel job may leave both unset: one pod, run once.
	if spec.Completions == nil && spec.Parallelism == nil {
		spec.Completions = new(int32(1))
		spec.Parallelism = new(int32(1))
	}
	if spec.Parallelism == nil {
		spec.Parallelism = new(int32(1))
	}
	if spec.BackoffLimit == nil {
		if spec.BackoffLimitPerIndex != nil {
			spec.BackoffLimit = new(int32(math.MaxInt32))
		} else {
			spec.BackoffLimit = new(int32(6))
		}
	}
	if spec.Template.Labels != nil && len(j.Labels) == 0 {
		j.Labels = maps.Clone(spec.Template.Labels)
	}
	if spec.CompletionMode == nil {
		spec.CompletionMode = new(batchv1.NonIndexedCompletion)
	}
	if spec.Suspend == nil {
		spec.Suspend = new(false)
	}
	setDefaultsPodFailurePolicy(spec.PodFailurePolicy)
	if spec.PodReplacementPolicy == nil {
		if spec.PodFailurePolicy != nil {
			spec.PodReplacementPolicy = new(batchv1.Failed)
		} else {
			spec.PodReplacementPolicy = new(batchv1.TerminatingOrFailed)
		}
	}
	podspec.SetDefaultsPodSpec(&spec.Template.Spec)
}

// setDefaultsPodFailurePolicy makes a pod condition pattern without a status
// match the condition being True.
func setDefaultsPodFailurePolicy(p *batchv1.PodFailurePolicy) {
	if p == nil {
		return
	}
	for i := range p.Rules {
		for j := range p.Rules[i].OnPodConditions {
			if c := &p.Rules[i].OnPodConditions[j]; c.Status == "" {
				c.Status = corev1.ConditionTrue
			}
		}
	}
}

// setDefaultsCronJob fills a CronJob as Kubernetes does. Its job template
// gets only the pod and pod-failure-policy defaults, not the Job's: those
// come when the controller creates each Job.
func setDefaultsCronJob(cj *batchv1.CronJob) {
	spec := &cj.Spec
	if spec.ConcurrencyPolicy == "" {
		spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if spec.Suspend == nil {
		spec.Suspend = new(false)
	}
	if spec.SuccessfulJobsHistoryLimit == nil {
		spec.SuccessfulJobsHistoryLimit = new(int32(3))
	}
	if spec.FailedJobsHistoryLimit == nil {
		spec.FailedJobsHistoryLimit = new(int32(1))
	}
	setDefaultsPodFailurePolicy(spec.JobTemplate.Spec.PodFailurePolicy)
	podspec.SetDefaultsPodSpec(&spec.JobTemplate.Spec.Template.Spec)
}
