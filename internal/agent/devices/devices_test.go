package devices

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func gpus(n int64) corev1.ResourceRequirements {
	if n == 0 {
		return corev1.ResourceRequirements{}
	}
	return corev1.ResourceRequirements{Limits: corev1.ResourceList{Resource: *resource.NewQuantity(n, resource.DecimalSI)}}
}

type ctr struct {
	name    string
	gpus    int64
	init    bool
	sidecar bool
}

func podWith(uid string, cs ...ctr) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: uid, UID: types.UID(uid)}}
	for _, c := range cs {
		k := corev1.Container{Name: c.name, Resources: gpus(c.gpus)}
		switch {
		case c.sidecar:
			k.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
			p.Spec.InitContainers = append(p.Spec.InitContainers, k)
		case c.init:
			p.Spec.InitContainers = append(p.Spec.InitContainers, k)
		default:
			p.Spec.Containers = append(p.Spec.Containers, k)
		}
	}
	return p
}

func TestAllocate(t *testing.T) {
	tests := []struct {
		name    string
		devices int
		held    []*corev1.Pod // allocated first
		pod     *corev1.Pod
		want    map[string]string // container → IDs
		wantErr string
	}{
		{
			name: "no GPUs asked", devices: 2,
			pod:  podWith("p", ctr{name: "app"}),
			want: map[string]string{},
		},
		{
			name: "two containers get devices of their own", devices: 4,
			pod:  podWith("p", ctr{name: "a", gpus: 1}, ctr{name: "b", gpus: 2}, ctr{name: "c"}),
			want: map[string]string{"a": "0", "b": "1,2"},
		},
		{
			name: "devices held by another pod are skipped", devices: 4,
			held: []*corev1.Pod{podWith("other", ctr{name: "x", gpus: 2})},
			pod:  podWith("p", ctr{name: "a", gpus: 2}),
			want: map[string]string{"a": "2,3"},
		},
		{
			name: "an init container reuses the pod's devices", devices: 4,
			pod:  podWith("p", ctr{name: "prep", gpus: 1, init: true}, ctr{name: "app", gpus: 2}),
			want: map[string]string{"prep": "0", "app": "0,1"},
		},
		{
			name: "an init container asking more than the rest gets extra", devices: 4,
			pod:  podWith("p", ctr{name: "prep", gpus: 3, init: true}, ctr{name: "app", gpus: 1}),
			want: map[string]string{"prep": "0,1,2", "app": "0"},
		},
		{
			name: "a sidecar runs beside the app: its own device", devices: 4,
			pod:  podWith("p", ctr{name: "side", gpus: 1, sidecar: true}, ctr{name: "app", gpus: 1}),
			want: map[string]string{"side": "0", "app": "1"},
		},
		{
			name: "not enough free devices", devices: 2,
			held:    []*corev1.Pod{podWith("other", ctr{name: "x", gpus: 1})},
			pod:     podWith("p", ctr{name: "a", gpus: 2}),
			wantErr: "Allocate failed due to requested number of devices unavailable for nvidia.com/gpu. Requested: 2, Available: 1, which is unexpected",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewManager(filepath.Join(t.TempDir(), "cp.json"), t.TempDir(), Fake(tt.devices))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.held {
				if err := m.Allocate(p); err != nil {
					t.Fatal(err)
				}
			}
			err = m.Allocate(tt.pod)
			if tt.wantErr != "" {
				var ue *UnavailableError
				if !errors.As(err, &ue) || err.Error() != tt.wantErr {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, c := range append(tt.pod.Spec.InitContainers, tt.pod.Spec.Containers...) {
				if ids := m.Assigned(tt.pod.UID, c.Name); ids != nil {
					got[c.Name] = strings.Join(ids, ",")
				}
			}
			if !mapsEqual(got, tt.want) {
				t.Errorf("assigned %v, want %v", got, tt.want)
			}
			// Allocating again changes nothing.
			if err := m.Allocate(tt.pod); err != nil {
				t.Fatal(err)
			}
			for c, ids := range tt.want {
				if again := strings.Join(m.Assigned(tt.pod.UID, c), ","); again != ids {
					t.Errorf("second Allocate moved %s to %s", c, again)
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Assignments survive a restart through the checkpoint; released and
// retained-out pods give their devices back.
func TestCheckpointReleaseRetain(t *testing.T) {
	cp := filepath.Join(t.TempDir(), "kubelet", "devices.json")
	m, err := NewManager(cp, t.TempDir(), Fake(3))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Pod{podWith("a", ctr{name: "c", gpus: 1}), podWith("b", ctr{name: "c", gpus: 1}), podWith("gone", ctr{name: "c", gpus: 1})} {
		if err := m.Allocate(p); err != nil {
			t.Fatal(err)
		}
	}
	// A restart with one device fewer: the assignment of device 2 is dropped.
	m2, err := NewManager(cp, t.TempDir(), Fake(2))
	if err != nil {
		t.Fatal(err)
	}
	if got := m2.Assigned("b", "c"); !slices.Equal(got, []string{"1"}) {
		t.Errorf("after restart pod b has %v, want [1]", got)
	}
	if got := m2.Assigned("gone", "c"); got != nil {
		t.Errorf("the removed device is still assigned: %v", got)
	}
	if err := m2.Retain(func(uid types.UID) bool { return uid == "b" }); err != nil {
		t.Fatal(err)
	}
	if err := m2.Release("b"); err != nil {
		t.Fatal(err)
	}
	if err := m2.Allocate(podWith("new", ctr{name: "c", gpus: 2})); err != nil {
		t.Fatalf("both devices should be free again: %v", err)
	}
	if got := m2.Assigned("new", "c"); !slices.Equal(got, []string{"0", "1"}) {
		t.Errorf("new pod got %v, want [0 1]", got)
	}
}

func TestDetectAndRunOptions(t *testing.T) {
	dev := t.TempDir()
	for _, f := range []string{"nvidia10", "nvidia2", "nvidia0", "nvidiactl", "nvidia-uvm", "null"} {
		if err := os.WriteFile(filepath.Join(dev, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	devs := Detect(dev)
	var ids []string
	for _, d := range devs {
		ids = append(ids, d.ID)
	}
	if !slices.Equal(ids, []string{"0", "2", "10"}) {
		t.Fatalf("detected %v, want [0 2 10]", ids)
	}
	m, err := NewManager("", dev, devs)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Allocate(podWith("p", ctr{name: "app", gpus: 2})); err != nil {
		t.Fatal(err)
	}
	env, files := m.RunOptions("p", "app", true)
	var kv []string
	for _, e := range env {
		kv = append(kv, e.Key+"="+string(e.Value))
	}
	if !slices.Equal(kv, []string{"NVIDIA_VISIBLE_DEVICES=0,2", "CUDA_VISIBLE_DEVICES=0,2"}) {
		t.Errorf("env %v", kv)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Base(f.HostPath))
	}
	if !slices.Equal(paths, []string{"nvidia0", "nvidia2", "nvidiactl", "nvidia-uvm"}) {
		t.Errorf("device files %v", paths)
	}
	if env, files := m.RunOptions("p", "other", true); env != nil || files != nil {
		t.Errorf("a container without GPUs got %v %v", env, files)
	}
	// Simulated devices: only the variables.
	fm, _ := NewManager("", dev, Fake(1))
	_ = fm.Allocate(podWith("q", ctr{name: "app", gpus: 1}))
	env, files = fm.RunOptions("q", "app", false)
	if len(env) != 1 || string(env[0].Value) != "0" || files != nil {
		t.Errorf("fake device options: %v %v", env, files)
	}
}
