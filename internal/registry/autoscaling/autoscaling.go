// Package autoscaling serves the autoscaling API group: the
// HorizontalPodAutoscaler, stored as autoscaling/v2 and also served as
// autoscaling/v1 through the conversions Kubernetes uses (RegisterConversions).
//
// Defaulting, validation (field paths and messages) and the kubectl table
// follow Kubernetes' pkg/apis/autoscaling and pkg/printers.
package autoscaling

import (
	"context"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/registry/store"
)

// GroupName is the API group this package serves.
const GroupName = "autoscaling"

// Kinds returns the kinds this group serves, in the order they should be installed.
func Kinds() []*store.Kind {
	return []*store.Kind{horizontalPodAutoscalerKind()}
}

// RegisterDefaults registers the defaulting functions of this group's types
// with the scheme: autoscaling/v2 (the stored version) and autoscaling/v1,
// whose defaulter runs when a v1 request is decoded, before conversion.
func RegisterDefaults(scheme *runtime.Scheme) {
	scheme.AddTypeDefaultingFunc(&autoscalingv2.HorizontalPodAutoscaler{}, func(o interface{}) {
		SetDefaultsHorizontalPodAutoscaler(o.(*autoscalingv2.HorizontalPodAutoscaler))
	})
	scheme.AddTypeDefaultingFunc(&autoscalingv2.HorizontalPodAutoscalerList{}, func(o interface{}) {
		l := o.(*autoscalingv2.HorizontalPodAutoscalerList)
		for i := range l.Items {
			SetDefaultsHorizontalPodAutoscaler(&l.Items[i])
		}
	})
	scheme.AddTypeDefaultingFunc(&autoscalingv1.HorizontalPodAutoscaler{}, func(o interface{}) {
		setDefaultsV1HorizontalPodAutoscaler(o.(*autoscalingv1.HorizontalPodAutoscaler))
	})
	scheme.AddTypeDefaultingFunc(&autoscalingv1.HorizontalPodAutoscalerList{}, func(o interface{}) {
		l := o.(*autoscalingv1.HorizontalPodAutoscalerList)
		for i := range l.Items {
			setDefaultsV1HorizontalPodAutoscaler(&l.Items[i])
		}
	})
}

func horizontalPodAutoscalerKind() *store.Kind {
	return &store.Kind{
		Resource:   schema.GroupResource{Group: GroupName, Resource: "horizontalpodautoscalers"},
		Kind:       "HorizontalPodAutoscaler",
		Namespaced: true,
		New:        func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
		NewList:    func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscalerList{} },
		ShortNames: []string{"hpa"},
		Categories: []string{"all"},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateHorizontalPodAutoscaler(obj.(*autoscalingv2.HorizontalPodAutoscaler), nil)
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateHorizontalPodAutoscaler(obj.(*autoscalingv2.HorizontalPodAutoscaler), old.(*autoscalingv2.HorizontalPodAutoscaler))
		},
		ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateHorizontalPodAutoscalerStatus(&obj.(*autoscalingv2.HorizontalPodAutoscaler).Status)
		},
		PrepareForCreate: func(_ context.Context, obj runtime.Object) {
			hpa := obj.(*autoscalingv2.HorizontalPodAutoscaler)
			hpa.Annotations = dropRoundTripAnnotations(hpa.Annotations)
		},
		PrepareForUpdate: func(_ context.Context, obj, _ runtime.Object) {
			hpa := obj.(*autoscalingv2.HorizontalPodAutoscaler)
			hpa.Annotations = dropRoundTripAnnotations(hpa.Annotations)
		},
		Columns: hpaColumns,
		Row:     hpaRow,
	}
}

var hpaColumns = []metav1.TableColumnDefinition{
	{Name: "Reference", Type: "string", Description: autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["scaleTargetRef"]},
	{Name: "Targets", Type: "string", Description: autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["metrics"]},
	{Name: "MinPods", Type: "string", Description: autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["minReplicas"]},
	{Name: "MaxPods", Type: "string", Description: autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["maxReplicas"]},
	{Name: "Replicas", Type: "string", Description: autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()["currentReplicas"]},
	store.AgeColumn,
}
