// Package storage serves the storage.k8s.io API group: StorageClass,
// VolumeAttachment, CSIDriver, CSINode, CSIStorageCapacity and
// VolumeAttributesClass, validated by Kubernetes' own validation
// (k8s.io/kubernetes/pkg/apis/storage/validation) on their internal forms,
// defaulted by its generated defaulters, with kubectl's table columns.
package storage

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	apistorage "k8s.io/kubernetes/pkg/apis/storage"
	storageutil "k8s.io/kubernetes/pkg/apis/storage/util"
	k8sstoragev1 "k8s.io/kubernetes/pkg/apis/storage/v1"
	storagevalidation "k8s.io/kubernetes/pkg/apis/storage/validation"

	"skiff.dev/skiff/internal/registry/store"
	"skiff.dev/skiff/internal/registry/upstream"
)

// GroupName is the API group this package serves.
const GroupName = storagev1.GroupName

// Kinds returns the kinds this group serves.
func Kinds() []*store.Kind {
	return []*store.Kind{
		storageClassKind(),
		volumeAttachmentKind(),
		csiDriverKind(),
		csiNodeKind(),
		csiStorageCapacityKind(),
		volumeAttributesClassKind(),
	}
}

// RegisterDefaults registers Kubernetes' defaulters of the storage.k8s.io/v1
// types with the scheme.
func RegisterDefaults(scheme *runtime.Scheme) {
	_ = k8sstoragev1.RegisterDefaults(scheme)
}

func groupResource(plural string) schema.GroupResource {
	return schema.GroupResource{Group: GroupName, Resource: plural}
}

func col(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

// validated fills a Kind's validation from upstream functions on the
// internal type T.
func validated[T runtime.Object](k *store.Kind, newInternal func() T, create func(T) field.ErrorList, update func(obj, old T) field.ErrorList) *store.Kind {
	k.Validate = func(_ context.Context, obj runtime.Object) field.ErrorList {
		return upstream.Validate(obj, newInternal, create)
	}
	k.ValidateUpdate = func(_ context.Context, obj, old runtime.Object) field.ErrorList {
		return upstream.ValidateUpdate(obj, old, newInternal, update)
	}
	return k
}

func storageClassKind() *store.Kind {
	return validated(&store.Kind{
		Resource:   groupResource("storageclasses"),
		Kind:       "StorageClass",
		New:        func() runtime.Object { return &storagev1.StorageClass{} },
		NewList:    func() runtime.Object { return &storagev1.StorageClassList{} },
		ShortNames: []string{"sc"},
		Columns: []metav1.TableColumnDefinition{
			col("Provisioner", "string", storagev1.StorageClass{}.SwaggerDoc()["provisioner"]),
			col("ReclaimPolicy", "string", storagev1.StorageClass{}.SwaggerDoc()["reclaimPolicy"]),
			col("VolumeBindingMode", "string", storagev1.StorageClass{}.SwaggerDoc()["volumeBindingMode"]),
			col("AllowVolumeExpansion", "string", storagev1.StorageClass{}.SwaggerDoc()["allowVolumeExpansion"]),
			store.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			sc := obj.(*storagev1.StorageClass)
			reclaim := string(corev1.PersistentVolumeReclaimDelete)
			if sc.ReclaimPolicy != nil {
				reclaim = string(*sc.ReclaimPolicy)
			}
			mode := string(storagev1.VolumeBindingImmediate)
			if sc.VolumeBindingMode != nil {
				mode = string(*sc.VolumeBindingMode)
			}
			expand := sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
			return []interface{}{sc.Provisioner, reclaim, mode, expand, store.Age(sc.CreationTimestamp)}, nil
		},
		NameCells: func(items []runtime.Object, list bool) []string {
			classes := make([]*storagev1.StorageClass, len(items))
			for i, o := range items {
				classes[i] = o.(*storagev1.StorageClass)
			}
			return StorageClassNames(classes, list)
		},
	}, func() *apistorage.StorageClass { return &apistorage.StorageClass{} },
		storagevalidation.ValidateStorageClass, storagevalidation.ValidateStorageClassUpdate)
}

// IsDefaultClass reports whether the class carries the default-class
// annotation (or its beta form) set to "true".
func IsDefaultClass(sc *storagev1.StorageClass) bool {
	return sc.Annotations[storageutil.IsDefaultStorageClassAnnotation] == "true" ||
		sc.Annotations[storageutil.BetaIsDefaultStorageClassAnnotation] == "true"
}

// EffectiveDefault returns the class a claim without storageClassName gets
// among classes, as Kubernetes chooses it: of the classes marked default, the
// newest, then the first by name; nil when none is marked.
func EffectiveDefault(classes []*storagev1.StorageClass) *storagev1.StorageClass {
	var def *storagev1.StorageClass
	for _, sc := range classes {
		if !IsDefaultClass(sc) {
			continue
		}
		switch {
		case def == nil,
			sc.CreationTimestamp.After(def.CreationTimestamp.Time),
			sc.CreationTimestamp.Equal(&def.CreationTimestamp) && sc.Name < def.Name:
			def = sc
		}
	}
	return def
}

// StorageClassNames are the Name cells kubectl prints: in a list the
// effective default class is marked " (default)"; a single object is not.
func StorageClassNames(classes []*storagev1.StorageClass, list bool) []string {
	var def *storagev1.StorageClass
	if list {
		def = EffectiveDefault(classes)
	}
	names := make([]string, len(classes))
	for i, sc := range classes {
		names[i] = sc.Name
		if def != nil && sc.Name == def.Name {
			names[i] += " (default)"
		}
	}
	return names
}

func volumeAttachmentKind() *store.Kind {
	newInternal := func() *apistorage.VolumeAttachment { return &apistorage.VolumeAttachment{} }
	k := validated(&store.Kind{
		Resource: groupResource("volumeattachments"),
		Kind:     "VolumeAttachment",
		New:      func() runtime.Object { return &storagev1.VolumeAttachment{} },
		NewList:  func() runtime.Object { return &storagev1.VolumeAttachmentList{} },
		Columns: []metav1.TableColumnDefinition{
			{Name: "Attacher", Type: "string", Format: "name", Description: storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["attacher"]},
			col("PV", "string", storagev1.VolumeAttachmentSource{}.SwaggerDoc()["persistentVolumeName"]),
			col("Node", "string", storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["nodeName"]),
			col("Attached", "boolean", storagev1.VolumeAttachmentStatus{}.SwaggerDoc()["attached"]),
			store.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			va := obj.(*storagev1.VolumeAttachment)
			pv := ""
			if va.Spec.Source.PersistentVolumeName != nil {
				pv = *va.Spec.Source.PersistentVolumeName
			}
			return []interface{}{va.Spec.Attacher, pv, va.Spec.NodeName, va.Status.Attached, store.Age(va.CreationTimestamp)}, nil
		},
	}, newInternal, storagevalidation.ValidateVolumeAttachment, storagevalidation.ValidateVolumeAttachmentUpdate)
	// The status subresource is checked as any update, as upstream does.
	k.ValidateStatusUpdate = func(_ context.Context, obj, old runtime.Object) field.ErrorList {
		return upstream.ValidateUpdate(obj, old, newInternal, storagevalidation.ValidateVolumeAttachmentUpdate)
	}
	return k
}

func csiDriverKind() *store.Kind {
	return validated(&store.Kind{
		Resource: groupResource("csidrivers"),
		Kind:     "CSIDriver",
		New:      func() runtime.Object { return &storagev1.CSIDriver{} },
		NewList:  func() runtime.Object { return &storagev1.CSIDriverList{} },
		Columns: []metav1.TableColumnDefinition{
			col("AttachRequired", "boolean", storagev1.CSIDriverSpec{}.SwaggerDoc()["attachRequired"]),
			col("PodInfoOnMount", "boolean", storagev1.CSIDriverSpec{}.SwaggerDoc()["podInfoOnMount"]),
			col("StorageCapacity", "boolean", storagev1.CSIDriverSpec{}.SwaggerDoc()["storageCapacity"]),
			col("TokenRequests", "string", storagev1.CSIDriverSpec{}.SwaggerDoc()["tokenRequests"]),
			col("RequiresRepublish", "boolean", storagev1.CSIDriverSpec{}.SwaggerDoc()["requiresRepublish"]),
			col("Modes", "string", storagev1.CSIDriverSpec{}.SwaggerDoc()["volumeLifecycleModes"]),
			store.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			d := obj.(*storagev1.CSIDriver)
			modes := make([]string, 0, len(d.Spec.VolumeLifecycleModes))
			for _, m := range d.Spec.VolumeLifecycleModes {
				modes = append(modes, string(m))
			}
			tokens := "<unset>"
			if d.Spec.TokenRequests != nil {
				auds := make([]string, 0, len(d.Spec.TokenRequests))
				for _, t := range d.Spec.TokenRequests {
					auds = append(auds, t.Audience)
				}
				tokens = strings.Join(auds, ",")
			}
			return []interface{}{boolOr(d.Spec.AttachRequired, true), boolOr(d.Spec.PodInfoOnMount, false),
				boolOr(d.Spec.StorageCapacity, false), tokens, boolOr(d.Spec.RequiresRepublish, false),
				noneIfEmpty(strings.Join(modes, ",")), store.Age(d.CreationTimestamp)}, nil
		},
	}, func() *apistorage.CSIDriver { return &apistorage.CSIDriver{} },
		storagevalidation.ValidateCSIDriver, storagevalidation.ValidateCSIDriverUpdate)
}

func csiNodeKind() *store.Kind {
	newInternal := func() *apistorage.CSINode { return &apistorage.CSINode{} }
	k := validated(&store.Kind{
		Resource:       groupResource("csinodes"),
		Kind:           "CSINode",
		New:            func() runtime.Object { return &storagev1.CSINode{} },
		NewList:        func() runtime.Object { return &storagev1.CSINodeList{} },
		NameValidation: func(name string, prefix bool) []string { return nil }, // upstream checks it: a node name
		Columns: []metav1.TableColumnDefinition{
			col("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
			store.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			n := obj.(*storagev1.CSINode)
			return []interface{}{int64(len(n.Spec.Drivers)), store.Age(n.CreationTimestamp)}, nil
		},
	}, newInternal, storagevalidation.ValidateCSINode, storagevalidation.ValidateCSINodeUpdate)
	k.ValidateStatusUpdate = func(_ context.Context, obj, old runtime.Object) field.ErrorList {
		return upstream.ValidateUpdate(obj, old, newInternal, storagevalidation.ValidateCSINodeStatusUpdate)
	}
	return k
}

func csiStorageCapacityKind() *store.Kind {
	newInternal := func() *apistorage.CSIStorageCapacity { return &apistorage.CSIStorageCapacity{} }
	return validated(&store.Kind{
		Resource:   groupResource("csistoragecapacities"),
		Kind:       "CSIStorageCapacity",
		Namespaced: true,
		New:        func() runtime.Object { return &storagev1.CSIStorageCapacity{} },
		NewList:    func() runtime.Object { return &storagev1.CSIStorageCapacityList{} },
		Columns: []metav1.TableColumnDefinition{
			col("StorageClassName", "string", storagev1.CSIStorageCapacity{}.SwaggerDoc()["storageClassName"]),
			col("Capacity", "string", storagev1.CSIStorageCapacity{}.SwaggerDoc()["capacity"]),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			c := obj.(*storagev1.CSIStorageCapacity)
			capacity := "<unset>"
			if c.Capacity != nil {
				capacity = c.Capacity.String()
			}
			return []interface{}{c.StorageClassName, capacity}, nil
		},
	}, newInternal, func(c *apistorage.CSIStorageCapacity) field.ErrorList {
		return storagevalidation.ValidateCSIStorageCapacity(c, storagevalidation.CSIStorageCapacityValidateOptions{})
	}, storagevalidation.ValidateCSIStorageCapacityUpdate)
}

func volumeAttributesClassKind() *store.Kind {
	return validated(&store.Kind{
		Resource:   groupResource("volumeattributesclasses"),
		Kind:       "VolumeAttributesClass",
		New:        func() runtime.Object { return &storagev1.VolumeAttributesClass{} },
		NewList:    func() runtime.Object { return &storagev1.VolumeAttributesClassList{} },
		ShortNames: []string{"vac"},
		Columns: []metav1.TableColumnDefinition{
			col("DriverName", "string", storagev1.VolumeAttributesClass{}.SwaggerDoc()["driverName"]),
			store.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			c := obj.(*storagev1.VolumeAttributesClass)
			return []interface{}{c.DriverName, store.Age(c.CreationTimestamp)}, nil
		},
	}, func() *apistorage.VolumeAttributesClass { return &apistorage.VolumeAttributesClass{} },
		storagevalidation.ValidateVolumeAttributesClass, storagevalidation.ValidateVolumeAttributesClassUpdate)
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func noneIfEmpty(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
