//go:build !linux

package volume

import (
	"errors"
	"os"

	corev1 "k8s.io/api/core/v1"
)

func (m *Manager) setupEmptyDir(dir string, src *corev1.EmptyDirVolumeSource) error {
	if src.Medium == corev1.StorageMediumMemory {
		return errors.New("memory-backed emptyDir needs Linux")
	}
	return os.MkdirAll(dir, 0o777)
}

func unmountUnder(string) error { return nil }
