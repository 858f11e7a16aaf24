package podenv

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Option adjusts how Resolve computes an environment.
type Option func(*options)

type options struct {
	allocatable corev1.ResourceList
	services    []corev1.Service
	servicesSet bool
	warn        func(reason, message string)
}

// WithNodeAllocatable gives the node's allocatable resources: the value of
// a limits.* resourceFieldRef for a limit the container does not set.
func WithNodeAllocatable(allocatable corev1.ResourceList) Option {
	return func(o *options) { o.allocatable = allocatable }
}

// WithServices gives the Services of the cluster (those of the pod's
// namespace and the "kubernetes" Service of the default namespace are
// enough) from which the service link variables (KUBERNETES_SERVICE_HOST,
// <NAME>_SERVICE_PORT, ...) are made. Without it Resolve lists them through
// the client (when there is one).
func WithServices(services []corev1.Service) Option {
	return func(o *options) { o.services, o.servicesSet = services, true }
}

// WithWarnings receives what the kubelet reports as Warning events while
// making an environment (reason InvalidEnvironmentVariableNames: envFrom keys
// that are not valid variable names and were skipped).
func WithWarnings(warn func(reason, message string)) Option {
	return func(o *options) { o.warn = warn }
}

// Resolve returns the environment of container c of pod: envFrom sources
// first, then env entries in order (a later definition of a name replaces
// its value), then the service link variables that no entry defines. podIP
// and hostIP are the pod's and node's addresses (for status.podIP and
// status.hostIP field references).
//
// A missing ConfigMap, Secret or key is an error unless the reference is
// optional; the message is the kubelet's: `configmap "x" not found`,
// `couldn't find key k in Secret ns/x`.
func Resolve(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, c *corev1.Container, podIP, hostIP string, opts ...Option) ([]*runtimeapi.KeyValue, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	r := &resolver{client: client, pod: pod, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}

	services := o.services
	if !o.servicesSet && client != nil {
		var err error
		if services, err = listServices(ctx, client, pod); err != nil {
			return nil, err
		}
	}
	serviceEnv := ServiceEnv(services, pod.Namespace, pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks)

	env := &orderedEnv{values: map[string]string{}}
	for _, from := range c.EnvFrom {
		if err := r.addEnvFrom(ctx, env, from, o.warn); err != nil {
			return nil, err
		}
	}
	lookup := func(name string) (string, bool) {
		if v, ok := env.values[name]; ok {
			return v, true
		}
		v, ok := serviceEnv[name]
		return v, ok
	}
	for _, ev := range c.Env {
		value := ev.Value
		switch {
		case value != "":
			value = expand(value, lookup)
		case ev.ValueFrom != nil:
			var err error
			if value, err = r.valueFrom(ctx, ev.ValueFrom, c, podIP, hostIP, o.allocatable); err != nil {
				return nil, err
			}
		}
		env.set(ev.Name, value)
	}

	out := make([]*runtimeapi.KeyValue, 0, len(env.names)+len(serviceEnv))
	for _, name := range env.names {
		out = append(out, &runtimeapi.KeyValue{Key: name, Value: []byte(env.values[name])})
	}
	names := make([]string, 0, len(serviceEnv))
	for name := range serviceEnv {
		if _, ok := env.values[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, &runtimeapi.KeyValue{Key: name, Value: []byte(serviceEnv[name])})
	}
	return out, nil
}

// Map turns an environment into a map from name to value, for Expand.
func Map(env []*runtimeapi.KeyValue) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		m[kv.Key] = string(kv.Value)
	}
	return m
}

type orderedEnv struct {
	names  []string
	values map[string]string
}

func (e *orderedEnv) set(name, value string) {
	if _, ok := e.values[name]; !ok {
		e.names = append(e.names, name)
	}
	e.values[name] = value
}

type resolver struct {
	client     kubernetes.Interface
	pod        *corev1.Pod
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func (r *resolver) addEnvFrom(ctx context.Context, env *orderedEnv, from corev1.EnvFromSource, warn func(string, string)) error {
	var (
		data     map[string]string
		kind     string
		name     string
		optional bool
	)
	switch {
	case from.ConfigMapRef != nil:
		kind, name = "configMap", from.ConfigMapRef.Name
		optional = from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional
		cm, err := r.configMap(ctx, name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return nil
			}
			return err
		}
		data = cm.Data
	case from.SecretRef != nil:
		kind, name = "secret", from.SecretRef.Name
		optional = from.SecretRef.Optional != nil && *from.SecretRef.Optional
		s, err := r.secret(ctx, name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return nil
			}
			return err
		}
		data = make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			data[k] = string(v)
		}
	default:
		return nil
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var invalid []string
	for _, k := range keys {
		full := from.Prefix + k
		if len(validation.IsRelaxedEnvVarName(full)) != 0 {
			invalid = append(invalid, full)
			continue
		}
		env.set(full, data[k])
	}
	if len(invalid) > 0 && warn != nil {
		warn("InvalidEnvironmentVariableNames", fmt.Sprintf("Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
			strings.Join(invalid, ", "), kind, r.pod.Namespace, name))
	}
	return nil
}

func (r *resolver) valueFrom(ctx context.Context, src *corev1.EnvVarSource, c *corev1.Container, podIP, hostIP string, allocatable corev1.ResourceList) (string, error) {
	switch {
	case src.FieldRef != nil:
		return PodFieldValue(r.pod, src.FieldRef.FieldPath, podIP, hostIP)
	case src.ResourceFieldRef != nil:
		return ContainerResourceValue(src.ResourceFieldRef, r.pod, c, allocatable)
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := r.configMap(ctx, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", nil
			}
			return "", err
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if optional {
				return "", nil
			}
			return "", fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, r.pod.Namespace, ref.Name)
		}
		return v, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, err := r.secret(ctx, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", nil
			}
			return "", err
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional {
				return "", nil
			}
			return "", fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, r.pod.Namespace, ref.Name)
		}
		return string(v), nil
	}
	return "", nil
}

func (r *resolver) configMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	if cm, ok := r.configMaps[name]; ok {
		return cm, nil
	}
	if r.client == nil {
		return nil, fmt.Errorf("get configmap %s/%s: no API client", r.pod.Namespace, name)
	}
	cm, err := r.client.CoreV1().ConfigMaps(r.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, apiError(err, "configmap", r.pod.Namespace, name)
	}
	r.configMaps[name] = cm
	return cm, nil
}

func (r *resolver) secret(ctx context.Context, name string) (*corev1.Secret, error) {
	if s, ok := r.secrets[name]; ok {
		return s, nil
	}
	if r.client == nil {
		return nil, fmt.Errorf("get secret %s/%s: no API client", r.pod.Namespace, name)
	}
	s, err := r.client.CoreV1().Secrets(r.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, apiError(err, "secret", r.pod.Namespace, name)
	}
	r.secrets[name] = s
	return s, nil
}

// apiError words a failed read of a ConfigMap or Secret as the kubelet
// does: `configmap "x" not found` (still an apierrors NotFound).
func apiError(err error, kind, namespace, name string) error {
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(schema.GroupResource{Resource: kind}, name)
	}
	return fmt.Errorf("get %s %s/%s: %w", kind, namespace, name, err)
}

func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	return expandFunc(s, lookup)
}
