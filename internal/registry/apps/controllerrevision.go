package apps

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/registry/store"
)

// controllerRevisionKind serves apps/v1 ControllerRevisions, the immutable
// snapshots of a StatefulSet's or DaemonSet's template that their
// controllers keep for rollouts and `kubectl rollout undo`. As in
// Kubernetes they have no status and their data never changes.
func controllerRevisionKind() *store.Kind {
	return &store.Kind{
		Resource:   appsv1.SchemeGroupVersion.WithResource("controllerrevisions").GroupResource(),
		Kind:       "ControllerRevision",
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.ControllerRevision{} },
		NewList:    func() runtime.Object { return &appsv1.ControllerRevisionList{} },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateControllerRevisionCreate(obj.(*appsv1.ControllerRevision))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			cr, o := obj.(*appsv1.ControllerRevision), old.(*appsv1.ControllerRevision)
			errs := nonNegative(cr.Revision, field.NewPath("revision"))
			return append(errs, apivalidation.ValidateImmutableField(cr.Data, o.Data, field.NewPath("data"))...)
		},
		NoStatusSubresource: true,
		Columns: []metav1.TableColumnDefinition{
			{Name: "Controller", Type: "string", Description: "Controller of the object"},
			{Name: "Revision", Type: "string", Description: appsv1.ControllerRevision{}.SwaggerDoc()["revision"]},
			store.AgeColumn,
		},
		Row: controllerRevisionRow,
	}
}

// controllerRevisionRow shows the owning controller as kubectl does,
// "statefulset.apps/web", or <none>.
func controllerRevisionRow(obj runtime.Object) ([]interface{}, error) {
	cr := obj.(*appsv1.ControllerRevision)
	controller := "<none>"
	if ref := metav1.GetControllerOf(cr); ref != nil {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil {
			return nil, fmt.Errorf("controller of %s: %w", cr.Name, err)
		}
		controller = strings.ToLower(gv.WithKind(ref.Kind).GroupKind().String()) + "/" + ref.Name
	}
	return []interface{}{controller, cr.Revision, store.Age(cr.CreationTimestamp)}, nil
}

// validateControllerRevisionCreate checks a new revision: a non-negative
// revision number and data that is a JSON object (Kubernetes' messages).
func validateControllerRevisionCreate(cr *appsv1.ControllerRevision) field.ErrorList {
	p := field.NewPath("data")
	errs := nonNegative(cr.Revision, field.NewPath("revision"))
	if cr.Data.Raw == nil {
		return append(errs, field.Required(p, "data is mandatory"))
	}
	var v any
	if err := json.Unmarshal(cr.Data.Raw, &v); err != nil {
		return append(errs, field.Invalid(p, "<value omitted>", fmt.Sprintf("error parsing data: %v", err.Error())))
	}
	if v == nil {
		return append(errs, field.Required(p, "data is mandatory"))
	}
	if _, ok := v.(map[string]any); !ok {
		errs = append(errs, field.Required(p, "data must be a valid JSON object"))
	}
	return errs
}
