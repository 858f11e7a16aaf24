package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Plugin directory names under <podsDir>/<podUID>/volumes, as the kubelet
// names them.
const (
	KindConfigMap   = "kubernetes.io~configmap"
	KindSecret      = "kubernetes.io~secret"
	KindDownwardAPI = "kubernetes.io~downward-api"
	KindProjected   = "kubernetes.io~projected"
	KindEmptyDir    = "kubernetes.io~empty-dir"
)

// Manager makes and removes the volumes of the pods on this node.
type Manager struct {
	client  kubernetes.Interface
	podsDir string
	log     *slog.Logger

	// Now is the clock (tests set it); it names data directories and ages
	// service account tokens.
	Now func() time.Time
	// LocalPathRoot is this node's local-path root: the directories of the
	// local-path provisioner's volumes under it are made when first
	// mounted.
	LocalPathRoot string

	mu          sync.Mutex
	allocatable corev1.ResourceList
	tokens      map[tokenKey]cachedToken
}

// NewManager returns a Manager keeping pods' volumes under podsDir.
func NewManager(client kubernetes.Interface, podsDir string, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.Default()
	}
	return &Manager{client: client, podsDir: podsDir, log: log, Now: time.Now, tokens: map[tokenKey]cachedToken{}}
}

// SetNodeAllocatable gives the node's allocatable resources: the value of
// downward API limits.* items for limits a container does not set.
func (m *Manager) SetNodeAllocatable(allocatable corev1.ResourceList) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.allocatable = allocatable.DeepCopy()
}

func (m *Manager) nodeAllocatable() corev1.ResourceList {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.allocatable
}

// SetupError is the failure of one volume; its message is the kubelet's
// FailedMount event text.
type SetupError struct {
	Volume string
	Err    error
}

func (e *SetupError) Error() string {
	return fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", e.Volume, e.Err)
}

func (e *SetupError) Unwrap() error { return e.Err }

// Setup creates or refreshes every volume of pod and returns the host path
// of each by volume name. Volumes that fail are left as they were and
// reported together (errors.Join of *SetupError); the others are still set
// up, and their paths returned.
func (m *Manager) Setup(ctx context.Context, pod *corev1.Pod) (map[string]string, error) {
	paths := make(map[string]string, len(pod.Spec.Volumes))
	var errs []error
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		path, err := m.setupVolume(ctx, pod, vol)
		if err != nil {
			errs = append(errs, &SetupError{Volume: vol.Name, Err: err})
			continue
		}
		paths[vol.Name] = path
	}
	return paths, errors.Join(errs...)
}

func (m *Manager) volumeDir(uid types.UID, kind, name string) string {
	return filepath.Join(m.podsDir, string(uid), "volumes", kind, name)
}

func (m *Manager) setupVolume(ctx context.Context, pod *corev1.Pod, vol *corev1.Volume) (string, error) {
	src := &vol.VolumeSource
	var (
		kind  string
		files map[string]file
		err   error
	)
	switch {
	case src.HostPath != nil:
		return src.HostPath.Path, checkHostPath(src.HostPath)
	case src.PersistentVolumeClaim != nil:
		return m.claimPath(ctx, pod.Namespace, src.PersistentVolumeClaim.ClaimName)
	case src.EmptyDir != nil:
		dir := m.volumeDir(pod.UID, KindEmptyDir, vol.Name)
		return dir, m.setupEmptyDir(dir, src.EmptyDir)
	case src.ConfigMap != nil:
		kind = KindConfigMap
		files, err = m.configMapFiles(ctx, pod.Namespace, &corev1.ConfigMapProjection{
			LocalObjectReference: src.ConfigMap.LocalObjectReference, Items: src.ConfigMap.Items, Optional: src.ConfigMap.Optional,
		}, modeOr(src.ConfigMap.DefaultMode))
	case src.Secret != nil:
		kind = KindSecret
		files, err = m.secretFiles(ctx, pod.Namespace, &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: src.Secret.SecretName}, Items: src.Secret.Items, Optional: src.Secret.Optional,
		}, modeOr(src.Secret.DefaultMode))
	case src.DownwardAPI != nil:
		kind = KindDownwardAPI
		files, err = m.downwardAPIFiles(pod, src.DownwardAPI.Items, modeOr(src.DownwardAPI.DefaultMode))
	case src.Projected != nil:
		kind = KindProjected
		files, err = m.projectedFiles(ctx, pod, vol.Name, src.Projected)
	default:
		return "", fmt.Errorf("volume type %s is not supported", volumeType(src))
	}
	if err != nil {
		return "", err
	}
	dir := m.volumeDir(pod.UID, kind, vol.Name)
	changed, err := writeAtomic(dir, files, m.Now())
	if err != nil {
		return "", err
	}
	if changed {
		m.log.Debug("volume updated", "pod", pod.Namespace+"/"+pod.Name, "volume", vol.Name, "files", len(files))
	}
	return dir, nil
}

// Teardown unmounts what the pod's volumes mounted and removes the pod's
// directory. It refuses to remove anything while a mount under it remains.
func (m *Manager) Teardown(ctx context.Context, podUID types.UID) error {
	m.mu.Lock()
	for k := range m.tokens {
		if k.podUID == podUID {
			delete(m.tokens, k)
		}
	}
	m.mu.Unlock()

	podDir := filepath.Join(m.podsDir, string(podUID))
	if _, err := os.Stat(podDir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := unmountUnder(podDir); err != nil {
		return fmt.Errorf("tear down volumes of pod %s: %w", podUID, err)
	}
	if err := os.RemoveAll(podDir); err != nil {
		return fmt.Errorf("remove pod dir %s: %w", podDir, err)
	}
	return nil
}

// PodUIDs lists the pods that have a directory under podsDir, so that the
// agent can tear down the volumes of pods it no longer runs (after a
// restart, say).
func (m *Manager) PodUIDs() ([]types.UID, error) {
	entries, err := os.ReadDir(m.podsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list pod dirs: %w", err)
	}
	var uids []types.UID
	for _, e := range entries {
		if e.IsDir() {
			uids = append(uids, types.UID(e.Name()))
		}
	}
	return uids, nil
}

func modeOr(mode *int32) os.FileMode {
	if mode == nil {
		return 0o644
	}
	return os.FileMode(*mode) & os.ModePerm
}

func volumeType(src *corev1.VolumeSource) string {
	switch {
	case src.PersistentVolumeClaim != nil:
		return "persistentVolumeClaim"
	case src.Ephemeral != nil:
		return "ephemeral"
	case src.CSI != nil:
		return "csi"
	case src.NFS != nil:
		return "nfs"
	case src.Image != nil:
		return "image"
	}
	return "unknown"
}
