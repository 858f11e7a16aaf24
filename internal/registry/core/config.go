package core

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/registry/store"
)

// maxDataSize is the largest total size of a ConfigMap's or Secret's data.
const maxDataSize = 1 * 1024 * 1024

func configMapKind() *store.Kind {
	return &store.Kind{
		Resource:   groupResource("configmaps"),
		Kind:       "ConfigMap",
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.ConfigMap{} },
		NewList:    func() runtime.Object { return &corev1.ConfigMapList{} },
		ShortNames: []string{"cm"},

		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateConfigMap(obj.(*corev1.ConfigMap))
		},
		ValidateUpdate: validateConfigMapUpdate,

		Columns: []metav1.TableColumnDefinition{
			col("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"]),
			store.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			cm := obj.(*corev1.ConfigMap)
			return []interface{}{int64(len(cm.Data) + len(cm.BinaryData)), store.Age(cm.CreationTimestamp)}, nil
		},
	}
}

func setDefaultsConfigMap(cm *corev1.ConfigMap) {
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func validateDataKey(key string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsConfigMapKey(key) {
		errs = append(errs, field.Invalid(fldPath, key, msg))
	}
	return errs
}

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	size := 0
	for _, k := range sortedKeys(cm.Data) {
		p := field.NewPath("data").Key(k)
		errs = append(errs, validateDataKey(k, p)...)
		if _, dup := cm.BinaryData[k]; dup {
			errs = append(errs, field.Invalid(p, k, "duplicate of key present in binaryData"))
		}
		size += len(cm.Data[k])
	}
	for _, k := range sortedKeys(cm.BinaryData) {
		errs = append(errs, validateDataKey(k, field.NewPath("binaryData").Key(k))...)
		size += len(cm.BinaryData[k])
	}
	if size > maxDataSize {
		errs = append(errs, field.TooLong(field.NewPath(""), "", maxDataSize))
	}
	return errs
}

func validateConfigMapUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	cm, oldCM := obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap)
	var errs field.ErrorList
	if oldCM.Immutable != nil && *oldCM.Immutable {
		const msg = "field is immutable when `immutable` is set"
		if cm.Immutable == nil || !*cm.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), msg))
		}
		if !reflect.DeepEqual(cm.Data, oldCM.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), msg))
		}
		if !reflect.DeepEqual(cm.BinaryData, oldCM.BinaryData) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), msg))
		}
	}
	return append(errs, validateConfigMap(cm)...)
}

func secretKind() *store.Kind {
	return &store.Kind{
		Resource:   groupResource("secrets"),
		Kind:       "Secret",
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.Secret{} },
		NewList:    func() runtime.Object { return &corev1.SecretList{} },

		PrepareForCreate: func(_ context.Context, obj runtime.Object) { mergeStringData(obj.(*corev1.Secret)) },
		PrepareForUpdate: func(_ context.Context, obj, _ runtime.Object) { mergeStringData(obj.(*corev1.Secret)) },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateSecret(obj.(*corev1.Secret))
		},
		ValidateUpdate: validateSecretUpdate,

		Columns: []metav1.TableColumnDefinition{
			col("Type", "string", corev1.Secret{}.SwaggerDoc()["type"]),
			col("Data", "string", corev1.Secret{}.SwaggerDoc()["data"]),
			store.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			s := obj.(*corev1.Secret)
			return []interface{}{string(s.Type), int64(len(s.Data)), store.Age(s.CreationTimestamp)}, nil
		},
		SelectableFields: func(obj runtime.Object) fields.Set {
			return fields.Set{"type": string(obj.(*corev1.Secret).Type)}
		},
	}
}

func setDefaultsSecret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
}

// mergeStringData moves stringData into data, as Kubernetes does when it
// converts a v1 Secret: stringData is write-only and wins over data.
func mergeStringData(s *corev1.Secret) {
	if len(s.StringData) == 0 {
		s.StringData = nil
		return
	}
	if s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

func validateSecret(s *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	dataPath := field.NewPath("data")
	size := 0
	for _, k := range sortedKeys(s.Data) {
		errs = append(errs, validateDataKey(k, dataPath.Key(k))...)
		size += len(s.Data[k])
	}
	if size > maxDataSize {
		errs = append(errs, field.TooLong(dataPath, "", maxDataSize))
	}
	required := func(key string) {
		if _, ok := s.Data[key]; !ok {
			errs = append(errs, field.Required(dataPath.Key(key), ""))
		}
	}
	validJSON := func(key string) {
		b, ok := s.Data[key]
		if !ok {
			errs = append(errs, field.Required(dataPath.Key(key), ""))
			return
		}
		if err := json.Unmarshal(b, &map[string]interface{}{}); err != nil {
			errs = append(errs, field.Invalid(dataPath.Key(key), "<secret contents redacted>", err.Error()))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		validJSON(corev1.DockerConfigKey)
	case corev1.SecretTypeDockerConfigJson:
		validJSON(corev1.DockerConfigJsonKey)
	case corev1.SecretTypeBasicAuth:
		_, user := s.Data[corev1.BasicAuthUsernameKey]
		_, pass := s.Data[corev1.BasicAuthPasswordKey]
		if !user && !pass {
			required(corev1.BasicAuthUsernameKey)
			required(corev1.BasicAuthPasswordKey)
		}
	case corev1.SecretTypeSSHAuth:
		if len(s.Data[corev1.SSHAuthPrivateKey]) == 0 {
			errs = append(errs, field.Required(dataPath.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		required(corev1.TLSCertKey)
		required(corev1.TLSPrivateKeyKey)
	}
	return errs
}

func validateSecretUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	s, oldS := obj.(*corev1.Secret), old.(*corev1.Secret)
	errs := apivalidation.ValidateImmutableField(s.Type, oldS.Type, field.NewPath("type"))
	if oldS.Immutable != nil && *oldS.Immutable {
		const msg = "field is immutable when `immutable` is set"
		if s.Immutable == nil || !*s.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), msg))
		}
		if !reflect.DeepEqual(s.Data, oldS.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), msg))
		}
	}
	return append(errs, validateSecret(s)...)
}

func serviceAccountKind() *store.Kind {
	return &store.Kind{
		Resource:   groupResource("serviceaccounts"),
		Kind:       "ServiceAccount",
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.ServiceAccount{} },
		NewList:    func() runtime.Object { return &corev1.ServiceAccountList{} },
		ShortNames: []string{"sa"},

		Columns: []metav1.TableColumnDefinition{
			col("Secrets", "string", corev1.ServiceAccount{}.SwaggerDoc()["secrets"]),
			store.AgeColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			sa := obj.(*corev1.ServiceAccount)
			return []interface{}{int64(len(sa.Secrets)), store.Age(sa.CreationTimestamp)}, nil
		},
	}
}
