package proxysub

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func first(int) int  { return 0 }
func last(n int) int { return n - 1 }

func TestServiceLocation(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
		{Name: "http", Port: 80}, {Name: "metrics", Port: 9090},
	}}}
	unnamed := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "one"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	eps := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{
		{NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.244.0.9"}}, Ports: []corev1.EndpointPort{{Name: "http", Port: 8000}}},
		{Addresses: []corev1.EndpointAddress{{IP: "10.244.0.5"}, {IP: "10.244.1.5"}}, Ports: []corev1.EndpointPort{{Name: "http", Port: 8000}, {Name: "metrics", Port: 9100}}},
	}}
	unnamedEps := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "fd00::5"}}, Ports: []corev1.EndpointPort{{Port: 8080}}}}}
	for _, tc := range []struct {
		name         string
		svc          *corev1.Service
		eps          *corev1.Endpoints
		scheme, port string
		pick         func(int) int
		want         string
		wantErr      string
	}{
		{name: "port number to name", svc: svc, eps: eps, port: "80", pick: first, want: "http://10.244.0.5:8000"},
		{name: "port name, other address", svc: svc, eps: eps, port: "metrics", pick: last, want: "http://10.244.1.5:9100"},
		{name: "https scheme", svc: svc, eps: eps, scheme: "https", port: "9090", pick: first, want: "https://10.244.0.5:9100"},
		{name: "unnamed port, no port asked, IPv6", svc: unnamed, eps: unnamedEps, pick: first, want: "http://[fd00::5]:8080"},
		{name: "unknown port number", svc: svc, eps: eps, port: "81", pick: first, wantErr: `no service port 81 found for service "web"`},
		{name: "unknown port name", svc: svc, eps: eps, port: "grpc", pick: first, wantErr: `no endpoints available for service "web"`},
		{name: "no port asked, all named", svc: svc, eps: eps, pick: first, wantErr: `no endpoints available for service "web"`},
		{name: "only not-ready addresses", svc: svc, eps: &corev1.Endpoints{Subsets: eps.Subsets[:1]}, port: "80", pick: first, wantErr: `no endpoints available for service "web"`},
		{name: "no subsets", svc: svc, eps: &corev1.Endpoints{}, port: "80", pick: first, wantErr: `no endpoints available for service "web"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := ServiceLocation(tc.svc, tc.eps, tc.scheme, tc.port, tc.pick)
			if tc.wantErr != "" {
				if !apierrors.IsServiceUnavailable(err) || err.Error() != tc.wantErr {
					t.Fatalf("got %v, want 503 %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if loc.String() != tc.want {
				t.Errorf("got %s, want %s", loc, tc.want)
			}
		})
	}
}

func TestPodLocation(t *testing.T) {
	pod := func(ip string, ports ...int32) *corev1.Pod {
		p := &corev1.Pod{Status: corev1.PodStatus{PodIP: ip}}
		c := corev1.Container{Name: "app"}
		for _, port := range ports {
			c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: port})
		}
		p.Spec.Containers = []corev1.Container{{Name: "sidecar"}, c}
		return p
	}
	for _, tc := range []struct {
		name         string
		pod          *corev1.Pod
		scheme, port string
		want         string
		wantBad      bool
	}{
		{name: "first declared port", pod: pod("10.244.0.7", 8000, 9000), want: "http://10.244.0.7:8000"},
		{name: "asked port and scheme", pod: pod("10.244.0.7", 8000), scheme: "https", port: "8443", want: "https://10.244.0.7:8443"},
		{name: "no port at all", pod: pod("10.244.0.7"), want: "http://10.244.0.7"},
		{name: "IPv6 without port", pod: pod("fd00::7"), want: "http://[fd00::7]"},
		{name: "loopback refused", pod: pod("127.0.0.1", 80), wantBad: true},
		{name: "link-local refused", pod: pod("169.254.169.254", 80), wantBad: true},
		{name: "no IP yet", pod: pod(""), wantBad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := PodLocation(tc.pod, tc.scheme, tc.port)
			if tc.wantBad {
				if !apierrors.IsBadRequest(err) {
					t.Fatalf("got %v, %v; want 400", loc, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if loc.String() != tc.want {
				t.Errorf("got %s, want %s", loc, tc.want)
			}
		})
	}
}

func TestNodeLocation(t *testing.T) {
	for _, tc := range []struct {
		name, scheme, port string
		want               string
		wantKubelet        bool
	}{
		{name: "kubelet by default", want: "https://10.0.0.4:10250", wantKubelet: true},
		{name: "kubelet port named", port: "10250", want: "https://10.0.0.4:10250", wantKubelet: true},
		{name: "other port", port: "9100", want: "http://10.0.0.4:9100"},
		{name: "other port over https", scheme: "https", port: "9443", want: "https://10.0.0.4:9443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc, kubelet, err := NodeLocation("10.0.0.4:10250", tc.scheme, tc.port)
			if err != nil {
				t.Fatal(err)
			}
			if loc.String() != tc.want || kubelet != tc.wantKubelet {
				t.Errorf("got %s kubelet=%v, want %s kubelet=%v", loc, kubelet, tc.want, tc.wantKubelet)
			}
		})
	}
}
