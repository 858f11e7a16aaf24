package prober

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Result is the outcome of one probe attempt.
type Result int

const (
	// Unknown means the probe could not be run (a port name the container
	// does not declare, a probe without a handler, a runtime error). The
	// kubelet counts it as a failed attempt and reports it as "errored".
	Unknown Result = iota
	// Success means the container passed the probe.
	Success
	// Failure means the container failed the probe.
	Failure
)

// String returns "success", "failure" or "unknown", as the kubelet writes
// probe results.
func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case Failure:
		return "failure"
	default:
		return "unknown"
	}
}

// UserAgent is the User-Agent of HTTP and gRPC probes: the kubelet's
// "kube-probe/MAJOR.MINOR" for the Kubernetes version skiff serves.
const UserAgent = "kube-probe/1.37"

// maxOutput bounds the bytes of an HTTP body or a command's output kept for
// the message.
const maxOutput = 10 << 10

// defaultTimeout is the timeout of a probe without timeoutSeconds.
const defaultTimeout = time.Second

// Execer runs a command in a container and waits for it: the ExecSync of the
// container runtime. A non-zero exit is a k8s.io/utils/exec.ExitError.
type Execer interface {
	ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (stdout, stderr []byte, err error)
}

// Prober runs probe attempts. Its zero value probes HTTP, TCP and gRPC;
// exec probes need Runtime.
type Prober struct {
	// Runtime runs the commands of exec probes.
	Runtime Execer
	// HTTPClient's Transport carries HTTP probes; the Prober sets Timeout
	// and the redirect policy per probe. Nil means a transport that keeps
	// no connections alive, uses no proxy and does not verify TLS
	// certificates, as the kubelet's.
	HTTPClient *http.Client
}

// Probe runs one attempt of probe against the container containerID of pod.
// It returns the result and a message for the event that reports it (the
// caller adds "Liveness probe failed: " and the like): the failure's cause,
// or on success the response body or the command's output.
func (p *Prober) Probe(ctx context.Context, pod *corev1.Pod, container *corev1.Container, containerID string, probe *corev1.Probe) (Result, string) {
	timeout := defaultTimeout
	if probe.TimeoutSeconds > 0 {
		timeout = time.Duration(probe.TimeoutSeconds) * time.Second
	}
	switch {
	case probe.Exec != nil:
		return p.probeExec(ctx, container, containerID, probe.Exec, timeout)
	case probe.HTTPGet != nil:
		return p.probeHTTP(ctx, pod, container, probe.HTTPGet, timeout)
	case probe.TCPSocket != nil:
		port, err := containerPort(probe.TCPSocket.Port, container)
		if err != nil {
			return Unknown, err.Error()
		}
		host := probe.TCPSocket.Host
		if host == "" {
			host = pod.Status.PodIP
		}
		return probeTCP(ctx, host, port, timeout)
	case probe.GRPC != nil:
		service := ""
		if probe.GRPC.Service != nil {
			service = *probe.GRPC.Service
		}
		return probeGRPC(ctx, pod.Status.PodIP, int(probe.GRPC.Port), service, timeout)
	}
	return Unknown, fmt.Sprintf("probe of container %q has no handler (exec, httpGet, tcpSocket or grpc)", container.Name)
}

// containerPort resolves a probe's port: a number, or the name of one of
// the container's ports (or a number written as a string).
func containerPort(port intstr.IntOrString, container *corev1.Container) (int, error) {
	n := port.IntValue()
	if port.Type == intstr.String {
		n = -1
		for _, p := range container.Ports {
			if p.Name == port.StrVal {
				n = int(p.ContainerPort)
				break
			}
		}
		if n == -1 {
			var err error
			if n, err = strconv.Atoi(port.StrVal); err != nil {
				return 0, fmt.Errorf("port %q not found in container %q", port.StrVal, container.Name)
			}
		}
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid port number: %d", n)
	}
	return n, nil
}
