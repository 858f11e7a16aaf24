package core

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/registry/podspec"
	"skiff.dev/skiff/internal/registry/store"
)

var templatePath = field.NewPath("template")

// podTemplateKind serves core/v1 PodTemplates: a named pod template that
// nothing runs (charts and tools keep them for later use).
func podTemplateKind() *store.Kind {
	return &store.Kind{
		Resource:   groupResource("podtemplates"),
		Kind:       "PodTemplate",
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.PodTemplate{} },
		NewList:    func() runtime.Object { return &corev1.PodTemplateList{} },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return podspec.ValidatePodTemplateSpec(&obj.(*corev1.PodTemplate).Template, templatePath)
		},
		// metadata.generation counts changes of the template, as in
		// Kubernetes.
		PrepareForCreate: func(_ context.Context, obj runtime.Object) { obj.(*corev1.PodTemplate).Generation = 1 },
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			t, o := obj.(*corev1.PodTemplate), old.(*corev1.PodTemplate)
			t.Generation = o.Generation
			if !apiequality.Semantic.DeepEqual(t.Template, o.Template) {
				t.Generation++
			}
		},
		NoStatusSubresource: true,
		Columns: []metav1.TableColumnDefinition{
			col("Containers", "string", "Names of each container in the template."),
			col("Images", "string", "Images referenced by each container in the template."),
			col("Pod Labels", "string", "The labels for the pod template."),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			t := obj.(*corev1.PodTemplate)
			names, images := containerCells(t.Template.Spec.Containers)
			return []interface{}{names, images, labels.FormatLabels(t.Template.Labels)}, nil
		},
	}
}

// containerCells lays out a template's container names and images, comma
// separated, as kubectl shows them.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}
