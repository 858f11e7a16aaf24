package apiserver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestServiceURL(t *testing.T) {
	svc := func(typ corev1.ServiceType, ip, external string, ports ...int32) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hook"},
			Spec: corev1.ServiceSpec{Type: typ, ClusterIP: ip, ExternalName: external}}
		for _, p := range ports {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: p})
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		svc     *corev1.Service
		port    int32
		want    string
		wantErr bool
	}{
		{"cluster IP", svc(corev1.ServiceTypeClusterIP, "10.43.0.9", "", 443), 443, "https://10.43.0.9:443", false},
		{"no such port", svc(corev1.ServiceTypeClusterIP, "10.43.0.9", "", 443), 8443, "", true},
		{"headless", svc(corev1.ServiceTypeClusterIP, corev1.ClusterIPNone, "", 443), 443, "", true},
		{"external name", svc(corev1.ServiceTypeExternalName, "", "hooks.example.com"), 443, "https://hooks.example.com:443", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := serviceURL(tc.svc, tc.port)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && u.String() != tc.want {
				t.Errorf("url %s, want %s", u, tc.want)
			}
		})
	}
}
