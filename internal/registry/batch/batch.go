// Package batch serves the batch/v1 kinds — Job and CronJob — with
// Kubernetes' defaults, validation (field paths and messages), the selector
// and labels a Job gets on create, and the columns kubectl prints.
//
// Pod templates are defaulted and validated through the podspec package.
// Not enforced yet: the stricter Job status transition rules Kubernetes
// applies to controllers (JobManagedBy), and spec.scheduling, which is
// stored as given.
package batch

import (
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff.dev/skiff/internal/registry/store"
)

// Kinds returns the kinds this group serves, in the order they should be
// installed.
func Kinds() []*store.Kind {
	return []*store.Kind{jobKind(), cronJobKind()}
}

// RegisterDefaults registers the defaulting functions of the batch/v1 types
// (and their lists) with the scheme; decoding a request or a stored object
// applies them, as in Kubernetes.
func RegisterDefaults(scheme *runtime.Scheme) {
	scheme.AddTypeDefaultingFunc(&batchv1.Job{}, func(o interface{}) { setDefaultsJob(o.(*batchv1.Job)) })
	scheme.AddTypeDefaultingFunc(&batchv1.JobList{}, func(o interface{}) {
		l := o.(*batchv1.JobList)
		for i := range l.Items {
			setDefaultsJob(&l.Items[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&batchv1.CronJob{}, func(o interface{}) { setDefaultsCronJob(o.(*batchv1.CronJob)) })
	scheme.AddTypeDefaultingFunc(&batchv1.CronJobList{}, func(o interface{}) {
		l := o.(*batchv1.CronJobList)
		for i := range l.Items {
			setDefaultsCronJob(&l.Items[i])
		}
	})
}
