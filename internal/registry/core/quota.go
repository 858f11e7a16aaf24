package core

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	coreinternal "k8s.io/kubernetes/pkg/apis/core"
	coreinternalv1 "k8s.io/kubernetes/pkg/apis/core/v1"
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"

	"skiff.dev/skiff/internal/registry/store"
)

// registerQuotaDefaults registers Kubernetes' defaults of ResourceQuota and
// LimitRange (a container limit range's default limit from its max, its
// default request from the default limit or min).
func registerQuotaDefaults(scheme *runtime.Scheme) {
	scheme.AddTypeDefaultingFunc(&corev1.ResourceQuota{}, func(o interface{}) {
		coreinternalv1.SetObjectDefaults_ResourceQuota(o.(*corev1.ResourceQuota))
	})
	scheme.AddTypeDefaultingFunc(&corev1.ResourceQuotaList{}, func(o interface{}) {
		coreinternalv1.SetObjectDefaults_ResourceQuotaList(o.(*corev1.ResourceQuotaList))
	})
	scheme.AddTypeDefaultingFunc(&corev1.LimitRange{}, func(o interface{}) {
		coreinternalv1.SetObjectDefaults_LimitRange(o.(*corev1.LimitRange))
	})
	scheme.AddTypeDefaultingFunc(&corev1.LimitRangeList{}, func(o interface{}) {
		coreinternalv1.SetObjectDefaults_LimitRangeList(o.(*corev1.LimitRangeList))
	})
}

// resourceQuotaKind is core/v1 ResourceQuota: spec.hard set by users,
// status written by the resourcequota controller (and the quota admission).
func resourceQuotaKind() *store.Kind {
	return &store.Kind{
		Resource:   groupResource("resourcequotas"),
		Kind:       "ResourceQuota",
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.ResourceQuota{} },
		NewList:    func() runtime.Object { return &corev1.ResourceQuotaList{} },
		ShortNames: []string{"quota"},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			in, errs := quotaToInternal(obj)
			if errs != nil {
				return errs
			}
			return corevalidation.ValidateResourceQuotaSpec(&in.Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateQuotaUpdate(obj, old, corevalidation.ValidateResourceQuotaUpdate)
		},
		ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateQuotaUpdate(obj, old, corevalidation.ValidateResourceQuotaStatusUpdate)
		},
		Columns: []metav1.TableColumnDefinition{
			col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
			col("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
			store.AgeColumn,
		},
		Row: resourceQuotaRow,
	}
}

// validateQuotaUpdate runs one of Kubernetes' ResourceQuota update
// validators on the internal copies of obj and old.
func validateQuotaUpdate(obj, old runtime.Object, validate func(in, old *coreinternal.ResourceQuota) field.ErrorList) field.ErrorList {
	in, errs := quotaToInternal(obj)
	if errs != nil {
		return errs
	}
	oldIn, errs := quotaToInternal(old)
	if errs != nil {
		return errs
	}
	return dropMetadataErrors(validate(in, oldIn))
}

func quotaToInternal(obj runtime.Object) (*coreinternal.ResourceQuota, field.ErrorList) {
	var in coreinternal.ResourceQuota
	if err := coreinternalv1.Convert_v1_ResourceQuota_To_core_ResourceQuota(obj.(*corev1.ResourceQuota), &in, nil); err != nil {
		return nil, field.ErrorList{field.InternalError(nil, err)}
	}
	return &in, nil
}

// dropMetadataErrors leaves the metadata to the generic store's checks.
func dropMetadataErrors(errs field.ErrorList) field.ErrorList {
	var out field.ErrorList
	for _, e := range errs {
		if e.Field == "metadata" || strings.HasPrefix(e.Field, "metadata.") {
			continue
		}
		out = append(out, e)
	}
	return out
}

// resourceQuotaRow renders REQUEST (used/hard of every resource but the
// limits.*), LIMIT (the limits.*) and AGE, as kubectl shows them.
func resourceQuotaRow(obj runtime.Object) ([]interface{}, error) {
	q, ok := obj.(*corev1.ResourceQuota)
	if !ok {
		return nil, fmt.Errorf("table row: unexpected type %T", obj)
	}
	names := make([]string, 0, len(q.Status.Hard))
	for name := range q.Status.Hard {
		names = append(names, string(name))
	}
	sort.Strings(names)
	var requests, limits bytes.Buffer
	for _, name := range names {
		w := &requests
		if strings.HasPrefix(name, "limits.") {
			w = &limits
		}
		used, hard := q.Status.Used[corev1.ResourceName(name)], q.Status.Hard[corev1.ResourceName(name)]
		fmt.Fprintf(w, "%s: %s/%s, ", name, used.String(), hard.String())
	}
	return []interface{}{strings.TrimSuffix(requests.String(), ", "), strings.TrimSuffix(limits.String(), ", "), store.Age(q.CreationTimestamp)}, nil
}

// limitRangeKind is core/v1 LimitRange, read by the LimitRanger admission.
func limitRangeKind() *store.Kind {
	return &store.Kind{
		Resource:   groupResource("limitranges"),
		Kind:       "LimitRange",
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.LimitRange{} },
		NewList:    func() runtime.Object { return &corev1.LimitRangeList{} },
		ShortNames: []string{"limits"},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			var in coreinternal.LimitRange
			if err := coreinternalv1.Convert_v1_LimitRange_To_core_LimitRange(obj.(*corev1.LimitRange), &in, nil); err != nil {
				return field.ErrorList{field.InternalError(nil, err)}
			}
			return dropMetadataErrors(corevalidation.ValidateLimitRange(&in))
		},
		// kubectl's default columns for a kind without its own printer.
		Columns: []metav1.TableColumnDefinition{
			{Name: "Created At", Type: "date", Description: swaggerMetadata["creationTimestamp"]},
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			lr, ok := obj.(*corev1.LimitRange)
			if !ok {
				return nil, fmt.Errorf("table row: unexpected type %T", obj)
			}
			return []interface{}{lr.CreationTimestamp.UTC().Format(time.RFC3339)}, nil
		},
	}
}

var swaggerMetadata = metav1.ObjectMeta{}.SwaggerDoc()
