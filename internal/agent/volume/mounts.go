package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff.dev/skiff/internal/agent/podenv"
)

// Mounts returns the CRI mounts of container c's volumeMounts, given the
// host path of each volume (from Setup). subPathExpr is expanded with the
// container's literal env values and pod field references; use
// MountsWithEnv to expand with the full resolved environment.
func Mounts(pod *corev1.Pod, c *corev1.Container, paths map[string]string) ([]*runtimeapi.Mount, error) {
	env := map[string]string{}
	for _, ev := range c.Env {
		switch {
		case ev.Value != "":
			env[ev.Name] = podenv.Expand(ev.Value, env)
		case ev.ValueFrom != nil && ev.ValueFrom.FieldRef != nil:
			if v, err := podenv.PodFieldValue(pod, ev.ValueFrom.FieldRef.FieldPath, pod.Status.PodIP, pod.Status.HostIP); err == nil {
				env[ev.Name] = v
			}
		default:
			env[ev.Name] = ""
		}
	}
	return MountsWithEnv(pod, c, paths, env)
}

// MountsWithEnv is Mounts with subPathExpr expanded against env (the
// container's environment as podenv.Resolve made it).
//
// A subPath is resolved on the host (symlinks included) and must stay
// inside its volume; a missing one is made as a directory, as the kubelet
// does. Volumes whose files the agent writes (configMap, secret,
// downwardAPI, projected) are always mounted read-only.
func MountsWithEnv(pod *corev1.Pod, c *corev1.Container, paths map[string]string, env map[string]string) ([]*runtimeapi.Mount, error) {
	volumes := make(map[string]*corev1.Volume, len(pod.Spec.Volumes))
	for i := range pod.Spec.Volumes {
		volumes[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	mounts := make([]*runtimeapi.Mount, 0, len(c.VolumeMounts))
	for _, vm := range c.VolumeMounts {
		vol, ok := volumes[vm.Name]
		hostPath, set := paths[vm.Name]
		if !ok || !set {
			return nil, fmt.Errorf("cannot find volume %q to mount into container %q", vm.Name, c.Name)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = podenv.Expand(vm.SubPathExpr, env)
		}
		if sub != "" {
			var err error
			if hostPath, err = subPath(hostPath, sub); err != nil {
				return nil, fmt.Errorf("volume %q subPath %q for container %q: %w", vm.Name, sub, c.Name, err)
			}
		}
		mounts = append(mounts, &runtimeapi.Mount{
			ContainerPath: vm.MountPath,
			HostPath:      hostPath,
			Readonly:      vm.ReadOnly || filesVolume(vol) || (vol.PersistentVolumeClaim != nil && vol.PersistentVolumeClaim.ReadOnly),
			Propagation:   propagation(vm.MountPropagation),
		})
	}
	return mounts, nil
}

func filesVolume(v *corev1.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
}

func propagation(p *corev1.MountPropagationMode) runtimeapi.MountPropagation {
	if p == nil {
		return runtimeapi.MountPropagation_PROPAGATION_PRIVATE
	}
	switch *p {
	case corev1.MountPropagationHostToContainer:
		return runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
	case corev1.MountPropagationBidirectional:
		return runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
	}
	return runtimeapi.MountPropagation_PROPAGATION_PRIVATE
}

// subPath resolves sub inside the volume at base, making it a directory
// when missing.
func subPath(base, sub string) (string, error) {
	if filepath.IsAbs(sub) {
		return "", errors.New("must be a relative path")
	}
	for _, part := range strings.Split(filepath.ToSlash(sub), "/") {
		if part == ".." {
			return "", errors.New("must not contain '..'")
		}
	}
	root, err := filepath.EvalSymlinks(base)
	if err != nil {
		return "", fmt.Errorf("resolve volume path: %w", err)
	}
	path := filepath.Join(root, sub)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(path, 0o755); err != nil {
			return "", fmt.Errorf("create: %w", err)
		}
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("resolve: %w", err)
	}
	if resolved != root && !strings.HasPrefix(resolved, root+string(filepath.Separator)) {
		return "", fmt.Errorf("resolves to %s, outside the volume", resolved)
	}
	return resolved, nil
}
