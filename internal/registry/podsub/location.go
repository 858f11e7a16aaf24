package podsub

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"skiff.dev/skiff/internal/wellknown"
)

// DefaultKubeletPort is the kubelet server's port when the node does not say
// (status.daemonEndpoints.kubeletEndpoint.Port).
const DefaultKubeletPort = 10250

// locator finds where on which node agent a pod's streams are served.
type locator struct {
	pods  rest.Getter
	nodes rest.Getter
}

func (l locator) pod(ctx context.Context, name string) (*corev1.Pod, error) {
	obj, err := l.pods.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("unexpected object for pod %s: %T", name, obj)
	}
	return pod, nil
}

// kubeletHost returns host:port of the kubelet server of the node (see
// KubeletHost).
func (l locator) kubeletHost(ctx context.Context, nodeName string) (string, error) {
	return KubeletHost(ctx, l.nodes, nodeName)
}

// KubeletHost returns host:port of the kubelet server of the node read
// through nodes: its InternalIP, else its Hostname address, and its
// advertised kubelet port (DefaultKubeletPort when it advertises none). A
// simulated (hollow) node has no kubelet server: 400.
func KubeletHost(ctx context.Context, nodes rest.Getter, nodeName string) (string, error) {
	if nodes == nil {
		return "", apierrors.NewServiceUnavailable("nodes are not served")
	}
	obj, err := nodes.Get(genericapirequest.WithNamespace(ctx, metav1.NamespaceNone), nodeName, &metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return "", fmt.Errorf("unexpected object for node %s: %T", nodeName, obj)
	}
	if node.Labels[wellknown.SimulatedLabel] == "true" {
		return "", apierrors.NewBadRequest(fmt.Sprintf("node %s is simulated: its pods run no processes, so they have no logs, exec, attach or port-forward", nodeName))
	}
	return NodeKubeletHost(node)
}

// NodeKubeletHost returns host:port of the node's kubelet server: its
// InternalIP, else its Hostname address, and its advertised kubelet port
// (DefaultKubeletPort when it advertises none).
func NodeKubeletHost(node *corev1.Node) (string, error) {
	host := ""
	for _, want := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeHostName} {
		for _, a := range node.Status.Addresses {
			if a.Type == want && a.Address != "" {
				host = a.Address
				break
			}
		}
		if host != "" {
			break
		}
	}
	if host == "" {
		return "", apierrors.NewBadRequest(fmt.Sprintf("node %s has no InternalIP or Hostname address", node.Name))
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port <= 0 {
		port = DefaultKubeletPort
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// logContainer picks the container of pods/log: the one named, or the only
// one. The message texts are Kubernetes'.
func logContainer(pod *corev1.Pod, container string) (string, error) {
	return pickContainer(pod, container, func() string {
		var names []string
		for _, c := range pod.Spec.InitContainers {
			names = append(names, c.Name)
		}
		names = append(names, containerNames(pod.Spec.Containers)...)
		for _, c := range pod.Spec.EphemeralContainers {
			names = append(names, c.Name)
		}
		return "[" + strings.Join(names, " ") + "]"
	})
}

// streamContainer picks the container of exec and attach: the one named, or
// the only one. The message texts are Kubernetes'.
func streamContainer(pod *corev1.Pod, container string) (string, error) {
	return pickContainer(pod, container, func() string {
		choices := "[" + strings.Join(containerNames(pod.Spec.Containers), " ") + "]"
		if len(pod.Spec.InitContainers) > 0 {
			choices += " or one of the init containers: [" + strings.Join(containerNames(pod.Spec.InitContainers), " ") + "]"
		}
		return choices
	})
}

// pickContainer returns container when the pod has it, or the pod's only
// container; with several and none named, the error lists choices().
func pickContainer(pod *corev1.Pod, container string, choices func() string) (string, error) {
	if container != "" {
		if !hasContainer(pod, container) {
			return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, pod.Name))
		}
		return container, nil
	}
	switch len(pod.Spec.Containers) {
	case 1:
		return pod.Spec.Containers[0].Name, nil
	case 0:
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", pod.Name, choices()))
}

func containerNames(cs []corev1.Container) []string {
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// checkLogStatus answers, from the pod's status, the requests for logs that
// the kubelet would refuse because the container has none yet, with the
// kubelet's words.
func checkLogStatus(pod *corev1.Pod, container string, previous bool) error {
	var status *corev1.ContainerStatus
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == container {
				status = &list[i]
			}
		}
	}
	if status == nil {
		if previous {
			return nil
		}
		// The node has not reported the container yet.
		return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", container, pod.Name))
	}
	last := status.LastTerminationState.Terminated
	if previous {
		if last == nil || last.ContainerID == "" {
			return apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", container, pod.Name))
		}
		return nil
	}
	if w := status.State.Waiting; w != nil && status.State.Running == nil && status.State.Terminated == nil && last == nil {
		reason := w.Reason
		switch reason {
		case "ErrImagePull":
			reason = "image can't be pulled"
		case "ImagePullBackOff":
			reason = "trying and failing to pull image"
		}
		return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, pod.Name, reason))
	}
	return nil
}

// logQuery is the kubelet's query for the log options.
func logQuery(opts *corev1.PodLogOptions) url.Values {
	params := url.Values{}
	if opts.Follow {
		params.Add("follow", "true")
	}
	if opts.Previous {
		params.Add("previous", "true")
	}
	if opts.Timestamps {
		params.Add("timestamps", "true")
	}
	if opts.SinceSeconds != nil {
		params.Add("sinceSeconds", strconv.FormatInt(*opts.SinceSeconds, 10))
	}
	if opts.SinceTime != nil {
		params.Add("sinceTime", opts.SinceTime.Format(time.RFC3339))
	}
	if opts.TailLines != nil {
		params.Add("tailLines", strconv.FormatInt(*opts.TailLines, 10))
	}
	if opts.LimitBytes != nil {
		params.Add("limitBytes", strconv.FormatInt(*opts.LimitBytes, 10))
	}
	if opts.Stream != nil {
		params.Add("stream", *opts.Stream)
	}
	return params
}

// streamQuery is the kubelet's query for the stdio and tty flags of exec
// and attach.
func streamQuery(stdin, stdout, stderr, tty bool) url.Values {
	params := url.Values{}
	for _, p := range []struct {
		name string
		on   bool
	}{{corev1.ExecStdinParam, stdin}, {corev1.ExecStdoutParam, stdout}, {corev1.ExecStderrParam, stderr}, {corev1.ExecTTYParam, tty}} {
		if p.on {
			params.Add(p.name, "1")
		}
	}
	return params
}

// portForwardQuery is the kubelet's query for the port-forward options.
func portForwardQuery(opts *corev1.PodPortForwardOptions) url.Values {
	params := url.Values{}
	if len(opts.Ports) > 0 {
		ports := make([]string, len(opts.Ports))
		for i, p := range opts.Ports {
			ports[i] = strconv.Itoa(int(p))
		}
		params.Add(corev1.PortHeader, strings.Join(ports, ","))
	}
	return params
}
