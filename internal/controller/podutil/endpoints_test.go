package podutil

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestFindPort(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: 8000},
			{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
		}}},
		InitContainers: []corev1.Container{
			{Ports: []corev1.ContainerPort{{Name: "setup", ContainerPort: 7000}}},
			{RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "sidecar", ContainerPort: 7100}}},
		},
	}}
	tests := []struct {
		name   string
		port   corev1.ServicePort
		want   int32
		wantOK bool
	}{
		{"named", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")}, 8000, true},
		{"named, protocol must match", corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns")}, 0, false},
		{"named UDP", corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}, 53, true},
		{"missing name", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("grpc")}, 0, false},
		{"ordinary init container serves nothing", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("setup")}, 0, false},
		{"sidecar init container", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("sidecar")}, 7100, true},
		{"number", corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(9000)}, 9000, true},
		{"unset: the service port", corev1.ServicePort{Port: 80}, 80, true},
	}
	for _, tt := range tests {
		got, ok := FindPort(pod, &tt.port)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: %d %v, want %d %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestInEndpointsAndIPOf(t *testing.T) {
	running := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1",
		PodIPs: []corev1.PodIP{{IP: "10.0.0.1"}, {IP: "fd00::1"}}}}
	deleting := running.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{}
	noIP := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}}
	done := running.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	tests := []struct {
		name              string
		pod               *corev1.Pod
		terminating, want bool
	}{
		{"running", running, false, true},
		{"terminating excluded", deleting, false, false},
		{"terminating included", deleting, true, true},
		{"no IP", noIP, true, false},
		{"finished", done, true, false},
	}
	for _, tt := range tests {
		if got := InEndpoints(tt.pod, tt.terminating); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if IPOf(running, corev1.IPv6Protocol) != "fd00::1" || IPOf(running, corev1.IPv4Protocol) != "10.0.0.1" || IPOf(running, "") != "10.0.0.1" || IPOf(noIP, "") != "" {
		t.Errorf("IPOf: %q %q", IPOf(running, corev1.IPv6Protocol), IPOf(running, corev1.IPv4Protocol))
	}
}
