package kubelet

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"skiff.dev/skiff/internal/agent/devices"
)

// kubeletVersion is what the node reports as its kubelet version: the
// Kubernetes version skiff serves (internal/apiserver.KubernetesVersion).
const kubeletVersion = "v1.37.2+skiff"

// machine describes the host the node runs on.
type machine struct {
	capacity corev1.ResourceList
	info     corev1.NodeSystemInfo
	fakeGPUs bool
}

// detectMachine reads the node's capacity and system info from the host.
func detectMachine(dataDir string, fakeGPUs, maxPods int) machine {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods:   *resource.NewQuantity(int64(maxPods), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(memTotal(), resource.BinarySI),
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dataDir, &st); err == nil {
		capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(st.Blocks)*int64(st.Bsize), resource.BinarySI)
	}
	gpus := len(devices.Detect(devDir))
	if fakeGPUs > 0 {
		gpus = fakeGPUs
	}
	if gpus > 0 {
		capacity[gpuResource] = *resource.NewQuantity(int64(gpus), resource.DecimalSI)
	}
	return machine{
		capacity: capacity,
		fakeGPUs: fakeGPUs > 0,
		info: corev1.NodeSystemInfo{
			MachineID:       readTrim("/etc/machine-id"),
			SystemUUID:      readTrim("/sys/class/dmi/id/product_uuid"),
			BootID:          readTrim("/proc/sys/kernel/random/boot_id"),
			KernelVersion:   kernelVersion(),
			OSImage:         osImage("/etc/os-release"),
			KubeletVersion:  kubeletVersion,
			OperatingSystem: "linux",
			Architecture:    goruntime.GOARCH,
		},
	}
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// memTotal is MemTotal of /proc/meminfo in bytes.
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	return parseMemTotal(b)
}

func parseMemTotal(b []byte) int64 {
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// devDir is where the GPUs' device files are.
const devDir = "/dev"

func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return readTrim("/proc/sys/kernel/osrelease")
	}
	return unix.ByteSliceToString(u.Release[:])
}

// osImage is PRETTY_NAME of an os-release file.
func osImage(path string) string {
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return "Linux"
	}
	return parseOSRelease(b)
}

func parseOSRelease(b []byte) string {
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), "=")
		if !ok || strings.TrimSpace(k) != "PRETTY_NAME" {
			continue
		}
		v = strings.TrimSpace(v)
		if uq, err := strconv.Unquote(v); err == nil {
			return uq
		}
		return strings.Trim(v, `"'`)
	}
	return "Linux"
}

// runtimeVersionString is the nodeInfo.containerRuntimeVersion of a runtime.
func runtimeVersionString(name, version string) string {
	return fmt.Sprintf("%s://%s", name, version)
}
