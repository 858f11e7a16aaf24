package serviceresolver

import (
	"net/url"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/util/proxy"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	listersdiscoveryv1 "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

func slice(name string, ready *bool, ip string, portName string, port int32) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "hooks",
			Labels: map[string]string{discoveryv1.LabelServiceName: "webhook"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(port)}},
	}
}

func TestResolveEndpoint(t *testing.T) {
	svc := func(typ corev1.ServiceType) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "webhook", Namespace: "hooks"},
			Spec: corev1.ServiceSpec{Type: typ, ClusterIP: "10.96.0.20",
				Ports: []corev1.ServicePort{{Name: "https", Port: 443}}},
		}
	}
	tests := []struct {
		name    string
		service *corev1.Service
		slices  []*discoveryv1.EndpointSlice
		ns, svc string
		port    int32
		want    string
		wantErr string
	}{
		{
			name: "ready endpoint", service: svc(corev1.ServiceTypeClusterIP),
			slices: []*discoveryv1.EndpointSlice{slice("a", ptr.To(true), "10.244.1.5", "https", 8443)},
			ns:     "hooks", svc: "webhook", port: 443, want: "https://10.244.1.5:8443",
		},
		{
			name: "not ready endpoint is skipped", service: svc(corev1.ServiceTypeClusterIP),
			slices: []*discoveryv1.EndpointSlice{slice("a", ptr.To(false), "10.244.1.5", "https", 8443),
				slice("b", nil, "10.244.2.9", "https", 8443)},
			ns: "hooks", svc: "webhook", port: 443, want: "https://10.244.2.9:8443",
		},
		{
			name: "no endpoints", service: svc(corev1.ServiceTypeClusterIP),
			slices: []*discoveryv1.EndpointSlice{slice("a", ptr.To(false), "10.244.1.5", "https", 8443)},
			ns:     "hooks", svc: "webhook", port: 443, wantErr: `no endpoints available for service "webhook"`,
		},
		{
			name: "no such port", service: svc(corev1.ServiceTypeClusterIP),
			ns: "hooks", svc: "webhook", port: 8080, wantErr: `no service port 8080 found for service "webhook"`,
		},
		{
			name: "no such service", ns: "hooks", svc: "webhook", port: 443,
			wantErr: `service "webhook" not found`,
		},
		{
			name: "ExternalName is refused", service: svc(corev1.ServiceTypeExternalName),
			ns: "hooks", svc: "webhook", port: 443, wantErr: `unsupported service type "ExternalName"`,
		},
		{
			name: "the API server itself", ns: "default", svc: "kubernetes", port: 443, want: "https://127.0.0.1:6443",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			services := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			if tt.service != nil {
				_ = services.Add(tt.service)
			}
			slices := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			for _, s := range tt.slices {
				_ = slices.Add(s)
			}
			getter, err := proxy.NewEndpointSliceListerGetter(listersdiscoveryv1.NewEndpointSliceLister(slices))
			if err != nil {
				t.Fatal(err)
			}
			r := &Resolver{Services: listerscorev1.NewServiceLister(services), EndpointSlices: getter,
				Loopback: &url.URL{Scheme: "https", Host: "127.0.0.1:6443"}}
			u, err := r.ResolveEndpoint(tt.ns, tt.svc, tt.port)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.String() != tt.want {
				t.Errorf("url = %s, want %s", u, tt.want)
			}
		})
	}
}
