// Package devices hands a node's NVIDIA GPUs to containers, as the kubelet's
// device manager does with NVIDIA's device plugin: a container that limits
// nvidia.com/gpu to N gets N devices of its own, which no other pod gets
// until its pod is done. Plain init containers run before the others and
// reuse the pod's devices. Assignments are kept in a checkpoint file, so an
// agent that restarts gives running pods the same devices again.
//
// A container sees its devices through NVIDIA_VISIBLE_DEVICES (read by
// NVIDIA's container toolkit) and, for runtimes that share the host's
// device numbering (the process runtime), CUDA_VISIBLE_DEVICES; runtimes
// that isolate devices (cri) also get the device files: /dev/nvidiaN and the
// driver's control files (nvidiactl, nvidia-uvm, ...). Simulated devices
// (the agent's --fake-gpus) have IDs and no files.
package devices

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff.dev/skiff/internal/wellknown"
)

// Resource is the extended resource NVIDIA GPUs are advertised as.
const Resource = wellknown.GPUResource

// Device is one GPU.
type Device struct {
	// ID is the GPU's index, as nvidia-smi and CUDA number them.
	ID string
	// Path is its device file (/dev/nvidia0); empty for a simulated GPU.
	Path string
}

var gpuFile = regexp.MustCompile(`^nvidia([0-9]+)$`)

// controlFiles are the driver's device files every GPU container needs.
var controlFiles = []string{"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"}

// Detect lists the GPUs whose device files (nvidia0, nvidia1, ...) are in
// dir, by index.
func Detect(dir string) []Device {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []Device
	for _, e := range entries {
		if m := gpuFile.FindStringSubmatch(e.Name()); m != nil {
			out = append(out, Device{ID: m[1], Path: filepath.Join(dir, e.Name())})
		}
	}
	slices.SortFunc(out, func(a, b Device) int { return numeric(a.ID) - numeric(b.ID) })
	return out
}

func numeric(id string) int {
	n, _ := strconv.Atoi(id)
	return n
}

// Fake returns n simulated GPUs with IDs 0 ... n-1.
func Fake(n int) []Device {
	out := make([]Device, n)
	for i := range out {
		out[i] = Device{ID: strconv.Itoa(i)}
	}
	return out
}

// UnavailableError is an allocation the free devices cannot satisfy: the
// pod is rejected with it (reason UnexpectedAdmissionError), as the kubelet
// does when its device manager disagrees with the scheduler.
type UnavailableError struct {
	Requested, Available int
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("Allocate failed due to requested number of devices unavailable for %s. Requested: %d, Available: %d, which is unexpected",
		Resource, e.Requested, e.Available)
}

// Manager keeps which pod's containers hold which devices.
type Manager struct {
	devices    []Device
	byID       map[string]Device
	devDir     string
	checkpoint string

	mu   sync.Mutex
	pods map[types.UID]map[string][]string // pod → container → device IDs
}

// checkpointFile is the checkpoint's format.
type checkpointFile struct {
	Pods map[types.UID]map[string][]string `json:"pods"`
}

// NewManager manages devs, whose control files are in devDir, keeping its
// assignments in the file checkpoint (read back here; assignments of
// devices that are gone are dropped).
func NewManager(checkpoint, devDir string, devs []Device) (*Manager, error) {
	m := &Manager{devices: devs, byID: map[string]Device{}, devDir: devDir, checkpoint: checkpoint, pods: map[types.UID]map[string][]string{}}
	for _, d := range devs {
		m.byID[d.ID] = d
	}
	b, err := os.ReadFile(checkpoint)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read device checkpoint: %w", err)
	}
	var cp checkpointFile
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("device checkpoint %s: %w", checkpoint, err)
	}
	for uid, containers := range cp.Pods {
		kept := map[string][]string{}
		for c, ids := range containers {
			ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { _, ok := m.byID[id]; return !ok })
			if len(ids) > 0 {
				kept[c] = ids
			}
		}
		if len(kept) > 0 {
			m.pods[uid] = kept
		}
	}
	return m, nil
}

// Count is the number of devices, the node's nvidia.com/gpu capacity.
func (m *Manager) Count() int {
	if m == nil {
		return 0
	}
	return len(m.devices)
}

// gpuLimit is how many GPUs a container asks for (extended resources are
// requested by their limit; a request alone counts too).
func gpuLimit(c *corev1.Container) int {
	if q, ok := c.Resources.Limits[Resource]; ok {
		return int(q.Value())
	}
	if q, ok := c.Resources.Requests[Resource]; ok {
		return int(q.Value())
	}
	return 0
}

// Allocate gives the containers of pod that ask for GPUs their devices,
// unless it has them already. Containers that run side by side (regular
// containers and sidecars) get devices of their own; a plain init
// container takes the first of the pod's devices, plus free ones when it
// asks for more than the others together.
func (m *Manager) Allocate(pod *corev1.Pod) error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.pods[pod.UID]; ok {
		return nil
	}
	var together []*corev1.Container
	var inits []*corev1.Container
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			together = append(together, c)
		} else {
			inits = append(inits, c)
		}
	}
	for i := range pod.Spec.Containers {
		together = append(together, &pod.Spec.Containers[i])
	}
	sum, maxInit := 0, 0
	for _, c := range together {
		sum += gpuLimit(c)
	}
	for _, c := range inits {
		maxInit = max(maxInit, gpuLimit(c))
	}
	need := max(sum, maxInit)
	if need == 0 {
		return nil
	}
	free := m.freeLocked()
	if len(free) < need {
		return &UnavailableError{Requested: need, Available: len(free)}
	}
	assigned := map[string][]string{}
	next := 0
	for _, c := range together {
		if n := gpuLimit(c); n > 0 {
			assigned[c.Name] = free[next : next+n]
			next += n
		}
	}
	pool := free[:need]
	for _, c := range inits {
		if n := gpuLimit(c); n > 0 {
			assigned[c.Name] = pool[:n]
		}
	}
	m.pods[pod.UID] = assigned
	return m.saveLocked()
}

// freeLocked lists the IDs no pod holds, in device order.
func (m *Manager) freeLocked() []string {
	held := map[string]bool{}
	for _, containers := range m.pods {
		for _, ids := range containers {
			for _, id := range ids {
				held[id] = true
			}
		}
	}
	var free []string
	for _, d := range m.devices {
		if !held[d.ID] {
			free = append(free, d.ID)
		}
	}
	return free
}

// Assigned returns the IDs of a container's devices (nil: none).
func (m *Manager) Assigned(uid types.UID, container string) []string {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.pods[uid][container])
}

// Release frees a pod's devices.
func (m *Manager) Release(uid types.UID) error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.pods[uid]; !ok {
		return nil
	}
	delete(m.pods, uid)
	return m.saveLocked()
}

// Retain frees the devices of every pod for which keep is false (pods
// that went while the agent was down).
func (m *Manager) Retain(keep func(types.UID) bool) error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for uid := range m.pods {
		if !keep(uid) {
			delete(m.pods, uid)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return m.saveLocked()
}

// RunOptions are what a container needs to see its devices: environment
// variables (CUDA_VISIBLE_DEVICES too when hostNumbering, the runtime
// showing the host's devices as they are) and the device files to pass in.
func (m *Manager) RunOptions(uid types.UID, container string, hostNumbering bool) ([]*runtimeapi.KeyValue, []*runtimeapi.Device) {
	ids := m.Assigned(uid, container)
	if len(ids) == 0 {
		return nil, nil
	}
	list := strings.Join(ids, ",")
	env := []*runtimeapi.KeyValue{{Key: "NVIDIA_VISIBLE_DEVICES", Value: []byte(list)}}
	if hostNumbering {
		env = append(env, &runtimeapi.KeyValue{Key: "CUDA_VISIBLE_DEVICES", Value: []byte(list)})
	}
	var files []*runtimeapi.Device
	for _, id := range ids {
		if p := m.byID[id].Path; p != "" {
			files = append(files, &runtimeapi.Device{ContainerPath: p, HostPath: p, Permissions: "rw"})
		}
	}
	if len(files) > 0 {
		for _, name := range controlFiles {
			p := filepath.Join(m.devDir, name)
			if _, err := os.Stat(p); err == nil {
				files = append(files, &runtimeapi.Device{ContainerPath: p, HostPath: p, Permissions: "rw"})
			}
		}
	}
	return env, files
}

// saveLocked writes the checkpoint atomically.
func (m *Manager) saveLocked() error {
	if m.checkpoint == "" {
		return nil
	}
	b, err := json.Marshal(checkpointFile{Pods: m.pods})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(m.checkpoint), 0o750); err != nil {
		return fmt.Errorf("write device checkpoint: %w", err)
	}
	tmp := m.checkpoint + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write device checkpoint: %w", err)
	}
	if err := os.Rename(tmp, m.checkpoint); err != nil {
		return fmt.Errorf("write device checkpoint: %w", err)
	}
	return nil
}
