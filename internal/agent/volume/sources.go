package volume

import (
	"context"
	"errors"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff.dev/skiff/internal/agent/podenv"
)

// configMapFiles is the content of a configMap volume or projection: every
// key (Data and BinaryData), or the items listed, each with its path and
// mode. A missing optional ConfigMap or key gives nothing.
func (m *Manager) configMapFiles(ctx context.Context, namespace string, p *corev1.ConfigMapProjection, defaultMode os.FileMode) (map[string]file, error) {
	optional := p.Optional != nil && *p.Optional
	cm, err := m.client.CoreV1().ConfigMaps(namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			if optional {
				return map[string]file{}, nil
			}
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmap"}, p.Name)
		}
		return nil, fmt.Errorf("get configmap %s/%s: %w", namespace, p.Name, err)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles(data, p.Items, defaultMode, optional, "configmap references non-existent config key: %s")
}

// secretFiles is configMapFiles for a Secret.
func (m *Manager) secretFiles(ctx context.Context, namespace string, p *corev1.SecretProjection, defaultMode os.FileMode) (map[string]file, error) {
	optional := p.Optional != nil && *p.Optional
	s, err := m.client.CoreV1().Secrets(namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			if optional {
				return map[string]file{}, nil
			}
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secret"}, p.Name)
		}
		return nil, fmt.Errorf("get secret %s/%s: %w", namespace, p.Name, err)
	}
	return keyFiles(s.Data, p.Items, defaultMode, optional, "references non-existent secret key: %s")
}

func keyFiles(data map[string][]byte, items []corev1.KeyToPath, defaultMode os.FileMode, optional bool, missing string) (map[string]file, error) {
	files := make(map[string]file, len(data))
	if len(items) == 0 {
		for k, v := range data {
			files[k] = file{data: v, mode: defaultMode}
		}
		return files, nil
	}
	for _, item := range items {
		v, ok := data[item.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf(missing, item.Key)
		}
		mode := defaultMode
		if item.Mode != nil {
			mode = os.FileMode(*item.Mode) & os.ModePerm
		}
		files[item.Path] = file{data: v, mode: mode}
	}
	return files, nil
}

// downwardAPIFiles is the content of a downwardAPI volume or projection.
func (m *Manager) downwardAPIFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defaultMode os.FileMode) (map[string]file, error) {
	files := make(map[string]file, len(items))
	for _, item := range items {
		var (
			value string
			err   error
		)
		switch {
		case item.FieldRef != nil:
			value, err = podenv.PodFieldValue(pod, item.FieldRef.FieldPath, pod.Status.PodIP, pod.Status.HostIP)
		case item.ResourceFieldRef != nil:
			value, err = podenv.ContainerResourceValue(item.ResourceFieldRef, pod, nil, m.nodeAllocatable())
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("downward API item %s: %w", item.Path, err)
		}
		mode := defaultMode
		if item.Mode != nil {
			mode = os.FileMode(*item.Mode) & os.ModePerm
		}
		files[item.Path] = file{data: []byte(value), mode: mode}
	}
	return files, nil
}

// projectedFiles merges the sources of a projected volume.
func (m *Manager) projectedFiles(ctx context.Context, pod *corev1.Pod, volume string, p *corev1.ProjectedVolumeSource) (map[string]file, error) {
	defaultMode := modeOr(p.DefaultMode)
	files := map[string]file{}
	for _, src := range p.Sources {
		var (
			part map[string]file
			err  error
		)
		switch {
		case src.ConfigMap != nil:
			part, err = m.configMapFiles(ctx, pod.Namespace, src.ConfigMap, defaultMode)
		case src.Secret != nil:
			part, err = m.secretFiles(ctx, pod.Namespace, src.Secret, defaultMode)
		case src.DownwardAPI != nil:
			part, err = m.downwardAPIFiles(pod, src.DownwardAPI.Items, defaultMode)
		case src.ServiceAccountToken != nil:
			part = m.tokenFiles(ctx, pod, volume, src.ServiceAccountToken, defaultMode)
		case src.ClusterTrustBundle != nil:
			err = errors.New("clusterTrustBundle projections are not supported")
		case src.PodCertificate != nil:
			err = errors.New("podCertificate projections are not supported")
		}
		if err != nil {
			return nil, err
		}
		for k, v := range part {
			files[k] = v
		}
	}
	return files, nil
}
