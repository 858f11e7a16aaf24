// Package scheduling serves the scheduling.k8s.io API group: PriorityClass,
// with Kubernetes' defaults and validation (k8s.io/kubernetes/pkg/apis/
// scheduling on a converted copy) and kubectl's columns. The built-in
// system classes are created at start (EnsureSystemClasses).
package scheduling

import (
	"context"
	"fmt"
	"strings"
	"time"

	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	schedulingclient "k8s.io/client-go/kubernetes/typed/scheduling/v1"
	schedulinginternal "k8s.io/kubernetes/pkg/apis/scheduling"
	schedulinginternalv1 "k8s.io/kubernetes/pkg/apis/scheduling/v1"
	schedulingvalidation "k8s.io/kubernetes/pkg/apis/scheduling/validation"

	"skiff.dev/skiff/internal/registry/store"
)

// GroupName is the API group this package serves.
const GroupName = schedulingv1.GroupName

// Kinds returns the kinds this group serves.
func Kinds() []*store.Kind {
	return []*store.Kind{priorityClassKind()}
}

// RegisterDefaults registers Kubernetes' PriorityClass defaults
// (preemptionPolicy PreemptLowerPriority).
func RegisterDefaults(scheme *runtime.Scheme) {
	scheme.AddTypeDefaultingFunc(&schedulingv1.PriorityClass{}, func(o interface{}) {
		schedulinginternalv1.SetDefaults_PriorityClass(o.(*schedulingv1.PriorityClass))
	})
	scheme.AddTypeDefaultingFunc(&schedulingv1.PriorityClassList{}, func(o interface{}) {
		l := o.(*schedulingv1.PriorityClassList)
		for i := range l.Items {
			schedulinginternalv1.SetDefaults_PriorityClass(&l.Items[i])
		}
	})
}

func priorityClassKind() *store.Kind {
	return &store.Kind{
		Resource:   schema.GroupResource{Group: GroupName, Resource: "priorityclasses"},
		Kind:       "PriorityClass",
		Namespaced: false,
		New:        func() runtime.Object { return &schedulingv1.PriorityClass{} },
		NewList:    func() runtime.Object { return &schedulingv1.PriorityClassList{} },
		ShortNames: []string{"pc"},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			in, errs := toInternal(obj.(*schedulingv1.PriorityClass))
			if errs != nil {
				return errs
			}
			return withoutMetadata(schedulingvalidation.ValidatePriorityClass(in))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			in, errs := toInternal(obj.(*schedulingv1.PriorityClass))
			if errs != nil {
				return errs
			}
			oldIn, errs := toInternal(old.(*schedulingv1.PriorityClass))
			if errs != nil {
				return errs
			}
			return withoutMetadata(schedulingvalidation.ValidatePriorityClassUpdate(in, oldIn))
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Value", Type: "integer", Description: schedulingv1.PriorityClass{}.SwaggerDoc()["value"]},
			{Name: "Global-Default", Type: "boolean", Description: schedulingv1.PriorityClass{}.SwaggerDoc()["globalDefault"]},
			store.AgeColumn,
			{Name: "PreemptionPolicy", Type: "string", Description: schedulingv1.PriorityClass{}.SwaggerDoc()["preemptionPolicy"]},
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			pc, ok := obj.(*schedulingv1.PriorityClass)
			if !ok {
				return nil, fmt.Errorf("table row: unexpected type %T", obj)
			}
			policy := ""
			if pc.PreemptionPolicy != nil {
				policy = string(*pc.PreemptionPolicy)
			}
			return []interface{}{int64(pc.Value), pc.GlobalDefault, store.Age(pc.CreationTimestamp), policy}, nil
		},
	}
}

func toInternal(pc *schedulingv1.PriorityClass) (*schedulinginternal.PriorityClass, field.ErrorList) {
	var in schedulinginternal.PriorityClass
	if err := schedulinginternalv1.Convert_v1_PriorityClass_To_scheduling_PriorityClass(pc, &in, nil); err != nil {
		return nil, field.ErrorList{field.InternalError(nil, err)}
	}
	return &in, nil
}

// withoutMetadata drops the metadata errors: the generic store checks
// metadata itself, and would report them twice.
func withoutMetadata(errs field.ErrorList) field.ErrorList {
	var out field.ErrorList
	for _, e := range errs {
		if strings.HasPrefix(e.Field, "metadata.") && e.Field != "metadata.name" {
			continue
		}
		if e.Field == "metadata.name" && e.Type != field.ErrorTypeForbidden {
			continue
		}
		out = append(out, e)
	}
	return out
}

// EnsureSystemClasses creates Kubernetes' built-in priority classes
// (system-cluster-critical, system-node-critical) where they are missing,
// as kube-apiserver's scheduling post-start hook does: a class already
// stored is left alone (no write goes through admission at a restart),
// and a failed create is retried for up to 30 seconds.
func EnsureSystemClasses(ctx context.Context, client schedulingclient.PriorityClassesGetter) error {
	for _, pc := range schedulinginternalv1.SystemPriorityClasses() {
		var last error
		err := wait.PollUntilContextTimeout(ctx, time.Second, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			_, last = client.PriorityClasses().Get(ctx, pc.Name, metav1.GetOptions{})
			if last == nil {
				return true, nil
			}
			if !apierrors.IsNotFound(last) {
				return false, nil
			}
			_, last = client.PriorityClasses().Create(ctx, pc.DeepCopy(), metav1.CreateOptions{})
			return last == nil || apierrors.IsAlreadyExists(last), nil
		})
		if err != nil {
			return fmt.Errorf("create priority class %s: %w (last: %v)", pc.Name, err, last)
		}
	}
	return nil
}
