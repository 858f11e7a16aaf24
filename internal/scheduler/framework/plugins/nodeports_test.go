package plugins_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	ft "skiff.dev/skiff/internal/scheduler/framework/frameworktest"
	"skiff.dev/skiff/internal/scheduler/framework/plugins"
)

func TestNodePorts(t *testing.T) {
	udp := func(port int32) ft.PodOpt {
		return func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: 53, HostPort: port, Protocol: corev1.ProtocolUDP})
		}
	}
	sidecar := func(port int32) ft.PodOpt {
		return func(p *corev1.Pod) {
			always := corev1.ContainerRestartPolicyAlways
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "side", RestartPolicy: &always,
				Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: port}}})
		}
	}
	node := func() *corev1.Node { return ft.MakeNode("n", "2", "4Gi") }
	runFilterCases(t, plugins.NodePorts{}, []filterCase{
		{name: "no host ports", node: node(), placed: []*corev1.Pod{ft.MakePod("a", nil, ft.HostPort(8080, ""))}, pod: ft.MakePod("p", nil)},
		{name: "free", node: node(), pod: ft.MakePod("p", nil, ft.HostPort(8080, ""))},
		{name: "same port, all IPs taken", node: node(), placed: []*corev1.Pod{ft.MakePod("a", nil, ft.HostPort(8080, ""))},
			pod: ft.MakePod("p", nil, ft.HostPort(8080, "10.0.0.1")), want: []string{plugins.ReasonNodePorts}},
		{name: "same port, all IPs asked", node: node(), placed: []*corev1.Pod{ft.MakePod("a", nil, ft.HostPort(8080, "10.0.0.2"))},
			pod: ft.MakePod("p", nil, ft.HostPort(8080, "")), want: []string{plugins.ReasonNodePorts}},
		{name: "same port and IP", node: node(), placed: []*corev1.Pod{ft.MakePod("a", nil, ft.HostPort(8080, "10.0.0.1"))},
			pod: ft.MakePod("p", nil, ft.HostPort(8080, "10.0.0.1")), want: []string{plugins.ReasonNodePorts}},
		{name: "same port, other IP", node: node(), placed: []*corev1.Pod{ft.MakePod("a", nil, ft.HostPort(8080, "10.0.0.2"))},
			pod: ft.MakePod("p", nil, ft.HostPort(8080, "10.0.0.1"))},
		{name: "other port", node: node(), placed: []*corev1.Pod{ft.MakePod("a", nil, ft.HostPort(8080, ""))}, pod: ft.MakePod("p", nil, ft.HostPort(8081, ""))},
		{name: "other protocol", node: node(), placed: []*corev1.Pod{ft.MakePod("a", nil, ft.HostPort(53, ""))}, pod: ft.MakePod("p", nil, udp(53))},
		{name: "sidecar's port counts", node: node(), placed: []*corev1.Pod{ft.MakePod("a", nil, sidecar(8080))},
			pod: ft.MakePod("p", nil, ft.HostPort(8080, "")), want: []string{plugins.ReasonNodePorts}},
	})
}
