package kubelet

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodHostname(t *testing.T) {
	long := strings.Repeat("a", 62) + "-b"
	for _, tc := range []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{"pod name", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0"}}, "web-0"},
		{"spec.hostname", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Hostname: "h"}}, "h"},
		{"subdomain alone", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}, Spec: corev1.PodSpec{Hostname: "web-0", Subdomain: "nginx"}}, "web-0"},
		{"fqdn", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}, Spec: corev1.PodSpec{Hostname: "web-0", Subdomain: "nginx", SetHostnameAsFQDN: new(true)}},
			"web-0.nginx.ns.svc.cluster.local"},
		{"fqdn without subdomain", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0"}, Spec: corev1.PodSpec{SetHostnameAsFQDN: new(true)}}, "web-0"},
		{"long name cut without trailing dash", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: long}}, strings.Repeat("a", 62)},
		{"fqdn too long", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", 50), Namespace: "ns"}, Spec: corev1.PodSpec{Subdomain: "nginx", SetHostnameAsFQDN: new(true)}},
			strings.Repeat("a", 50)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := podHostname(&tc.pod, "cluster.local"); got != tc.want {
				t.Errorf("podHostname = %q, want %q", got, tc.want)
			}
		})
	}
}
