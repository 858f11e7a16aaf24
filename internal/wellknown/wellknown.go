package wellknown

import corev1 "k8s.io/api/core/v1"

// GPUResource is the extended resource NVIDIA GPUs are advertised as.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// Node labels and annotations.
const (
	// SimulatedLabel marks simulated nodes, whose pods are simulated (hollow
	// nodes, skiff agent --runtime fake) and which have no kubelet server;
	// hollow nodes carry it as a label and an annotation, value "true".
	SimulatedLabel = "skiff.dev/simulated"
	// FakeGPUsLabel marks a node whose GPUs are fake (skiff agent
	// --fake-gpus), value "true".
	FakeGPUsLabel = "skiff.dev/fake-gpus"
)

// Pod annotations a simulated node reads.
const (
	// SimulateExitCodeAnnotation sets the exit code of the pod's containers
	// when they end (restartPolicy Never or OnFailure); default 0.
	SimulateExitCodeAnnotation = "skiff.dev/simulate-exit-code"
	// SimulateRunTimeAnnotation sets how long the pod's containers run
	// before they exit (a Go duration such as "30s").
	SimulateRunTimeAnnotation = "skiff.dev/simulate-run-time"
)
