// Package containerevents words the events the kubelet records about a
// container's image, creation, start and stop, as Kubernetes 1.37's kubelet
// does (reasons from k8s.io/kubernetes/pkg/kubelet/events). The kubelet and
// the simulated (hollow) nodes share it, so both tell a user the same.
package containerevents

import (
	"fmt"
	"time"

	kubeletevents "k8s.io/kubernetes/pkg/kubelet/events"
)

// The reasons and the fixed messages.
const (
	ReasonPulling = kubeletevents.PullingImage
	ReasonPulled  = kubeletevents.PulledImage
	ReasonCreated = kubeletevents.CreatedContainer
	ReasonStarted = kubeletevents.StartedContainer
	ReasonKilling = kubeletevents.KillingContainer

	Created = "Container created"
	Started = "Container started"
)

// Pulling is the message of a pull that begins.
func Pulling(image string) string { return fmt.Sprintf("Pulling image %q", image) }

// Present is the message of an image already on the node.
func Present(image string) string {
	return fmt.Sprintf("Container image %q already present on machine and can be accessed by the pod", image)
}

// Pulled is the message of a pull that took took; size, when above zero,
// is the image's size in bytes.
func Pulled(image string, took time.Duration, size uint64) string {
	msg := fmt.Sprintf("Successfully pulled image %q in %s (%s including waiting).", image, took, took)
	if size > 0 {
		msg += fmt.Sprintf(" Image size: %d bytes.", size)
	}
	return msg
}

// Killing is the message of a container the kubelet stops.
func Killing(container string) string { return "Stopping container " + container }
