// Package runtime is the contract between the agent's pod lifecycle (the
// kubelet part of `skiff agent`) and the container runtimes that run pods:
// the subset of the Container Runtime Interface the agent uses, with the
// method signatures of k8s.io/cri-api's RuntimeService and
// ImageManagerService, so the CRI client of k8s.io/cri-client satisfies it
// for containerd and the process runtime implements it in-process.
//
// The contract is split by its users: the kubelet needs all of Runtime,
// the kubelet server only StreamingRuntime, the prober only ExecSync. The
// conformance suite in runtime/runtimetest checks what an implementation
// must do; runtime/fake is the in-memory one the kubelet's tests use.
package runtime

import (
	"context"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Runtime runs pod sandboxes and their containers on this node.
//
// Semantics follow the CRI: a sandbox holds a pod's network namespace (its
// IP is in PodSandboxStatus.Network) and cgroup parent; containers are
// created in a sandbox, write their output in the CRI log format to
// ContainerConfig.LogPath under PodSandboxConfig.LogDirectory, and report
// their state, exit code, reason ("OOMKilled", "Error", "Completed") and
// times in ContainerStatus. StopContainer sends SIGTERM and, after timeout
// seconds, SIGKILL. Exec, Attach and PortForward return the URL of a
// streaming server (k8s.io/cri-streaming) the agent proxies kubectl to.
// Removing what is already gone, and stopping what is already stopped, is
// not an error.
type Runtime interface {
	Version(ctx context.Context, apiVersion string) (*runtimeapi.VersionResponse, error)
	SandboxManager
	ContainerManager
	StreamingRuntime
	ImageManager
}

// SandboxManager runs pod sandboxes: a pod's network namespace, IP and
// cgroup parent.
type SandboxManager interface {
	RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig, runtimeHandler string) (string, error)
	StopPodSandbox(ctx context.Context, podSandboxID string) error
	RemovePodSandbox(ctx context.Context, podSandboxID string) error
	PodSandboxStatus(ctx context.Context, podSandboxID string, verbose bool) (*runtimeapi.PodSandboxStatusResponse, error)
	ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error)
}

// ContainerManager runs the containers of sandboxes.
type ContainerManager interface {
	CreateContainer(ctx context.Context, podSandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error)
	StartContainer(ctx context.Context, containerID string) error
	StopContainer(ctx context.Context, containerID string, timeout int64) error
	RemoveContainer(ctx context.Context, containerID string) error
	ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error)
	ContainerStatus(ctx context.Context, containerID string, verbose bool) (*runtimeapi.ContainerStatusResponse, error)
	// UpdateContainerResources applies new cgroup limits to a container
	// in place (in-place pod resize); ContainerStatus reports them in
	// Resources.
	UpdateContainerResources(ctx context.Context, containerID string, resources *runtimeapi.ContainerResources) error
	// ExecSync runs cmd in the container and returns its output; a
	// non-zero exit is a k8s.io/utils/exec.CodeExitError.
	ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (stdout []byte, stderr []byte, err error)
}

// StreamingRuntime hands out the URLs of the runtime's streaming server for
// kubectl exec, attach and port-forward.
type StreamingRuntime interface {
	Exec(ctx context.Context, request *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error)
	Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error)
	PortForward(ctx context.Context, request *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error)
}

// ImageManager pulls images. The process runtime has no image store: it
// reports every image present and runs the container's command on the
// host.
type ImageManager interface {
	ImageStatus(ctx context.Context, image *runtimeapi.ImageSpec, verbose bool) (*runtimeapi.ImageStatusResponse, error)
	PullImage(ctx context.Context, image *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, podSandboxConfig *runtimeapi.PodSandboxConfig) (string, error)
}

// Closer is implemented by runtimes that hold processes or connections to
// release when the agent stops (the containerd the agent started, the
// process runtime's children and network). Whoever created the runtime
// closes it, once.
type Closer interface {
	Close(ctx context.Context) error
}

// Features are what a runtime declares about how it runs containers, so its
// users need not know which runtime it is.
type Features struct {
	// HostDeviceEnv: the container sees the host's devices and needs
	// CUDA_VISIBLE_DEVICES in the host's numbering to pick its GPUs,
	// rather than device files (the process runtime).
	HostDeviceEnv bool
	// HostFilesystem: the container runs on the host's file system, so a
	// mount (such as the one at terminationMessagePath) would create files
	// in the host's own directories (the process runtime).
	HostFilesystem bool
}

// FeatureReporter is implemented by runtimes whose Features are not the
// zero value (a runtime that runs containers in their own file system,
// such as containerd).
type FeatureReporter interface {
	Features() Features
}

// FeaturesOf returns what rt declares, or the zero Features.
func FeaturesOf(rt any) Features {
	if f, ok := rt.(FeatureReporter); ok {
		return f.Features()
	}
	return Features{}
}
