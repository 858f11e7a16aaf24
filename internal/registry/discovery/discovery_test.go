package discovery

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func seedSlice() *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "ml-model-x7k2p",
			Namespace: "production",
			Labels:    map[string]string{"kubernetes.io/service-name": "ml-model"},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.42.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}, NodeName: ptr.To("node-1")},
			{Addresses: []string{"10.42.0.6"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
		},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](8080)}},
	}
}

func TestDefaults(t *testing.T) {
	scheme := runtime.NewScheme()
	RegisterDefaults(scheme)
	eps := seedSlice()
	eps.Ports = []discoveryv1.EndpointPort{{Port: ptr.To[int32](8080)}}
	scheme.Default(eps)
	want := discoveryv1.EndpointPort{Name: ptr.To(""), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](8080)}
	if !apiequality.Semantic.DeepEqual(eps.Ports[0], want) {
		t.Errorf("port = %+v, want name \"\" and protocol TCP", eps.Ports[0])
	}
	if eps.Labels["kubernetes.io/service-name"] != "ml-model" {
		t.Errorf("service-name label changed: %v", eps.Labels)
	}
}

func TestValidate(t *testing.T) {
	kind := Kinds()[0]
	tests := []struct {
		name   string
		mutate func(*discoveryv1.EndpointSlice)
		want   []string
	}{
		{name: "seed slice", mutate: func(*discoveryv1.EndpointSlice) {}},
		{
			name:   "addressType missing",
			mutate: func(e *discoveryv1.EndpointSlice) { e.AddressType = "" },
			want:   []string{"addressType: Required value"},
		},
		{
			name:   "addressType unknown",
			mutate: func(e *discoveryv1.EndpointSlice) { e.AddressType = "IP" },
			want:   []string{`addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"`},
		},
		{
			name:   "endpoint without address",
			mutate: func(e *discoveryv1.EndpointSlice) { e.Endpoints[1].Addresses = nil },
			want:   []string{"endpoints[1].addresses: Required value: must contain at least 1 address"},
		},
		{
			name:   "not an IP",
			mutate: func(e *discoveryv1.EndpointSlice) { e.Endpoints[0].Addresses = []string{"ml-model"} },
			want:   []string{`endpoints[0].addresses[0]: Invalid value: "ml-model": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`},
		},
		{
			name:   "IPv6 in an IPv4 slice",
			mutate: func(e *discoveryv1.EndpointSlice) { e.Endpoints[0].Addresses = []string{"fd00::5"} },
			want:   []string{`endpoints[0].addresses[0]: Invalid value: "fd00::5": must be an IPv4 address`},
		},
		{
			name:   "loopback",
			mutate: func(e *discoveryv1.EndpointSlice) { e.Endpoints[0].Addresses = []string{"127.0.0.1"} },
			want:   []string{`endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`},
		},
		{
			name: "IPv6 slice",
			mutate: func(e *discoveryv1.EndpointSlice) {
				e.AddressType = discoveryv1.AddressTypeIPv6
				e.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"fd00:42::5"}}}
			},
		},
		{
			name: "FQDN slice",
			mutate: func(e *discoveryv1.EndpointSlice) {
				e.AddressType = discoveryv1.AddressTypeFQDN
				e.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"model.example.com"}}, {Addresses: []string{"Not A Name"}}}
			},
			want: []string{`endpoints[1].addresses[0]: Invalid value: "Not A Name": a lowercase RFC 1123 subdomain`},
		},
		{
			name:   "bad hostname",
			mutate: func(e *discoveryv1.EndpointSlice) { e.Endpoints[0].Hostname = ptr.To("pod.0") },
			want:   []string{`endpoints[0].hostname: Invalid value: "pod.0": must not contain dots`},
		},
		{
			name: "duplicate port names",
			mutate: func(e *discoveryv1.EndpointSlice) {
				e.Ports = append(e.Ports, discoveryv1.EndpointPort{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](9090)})
			},
			want: []string{`ports[1].name: Duplicate value: "http"`},
		},
		{
			name: "bad protocol and app protocol",
			mutate: func(e *discoveryv1.EndpointSlice) {
				e.Ports[0].Protocol = ptr.To(corev1.Protocol("HTTP"))
				e.Ports[0].AppProtocol = ptr.To("kubernetes.io/h2c")
			},
			want: []string{`ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"`},
		},
		{
			name:   "protocol missing",
			mutate: func(e *discoveryv1.EndpointSlice) { e.Ports[0].Protocol = nil },
			want:   []string{"ports[0].protocol: Required value"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := seedSlice()
			tt.mutate(eps)
			assertErrorPrefixes(t, kind.Validate(context.Background(), eps), tt.want)
		})
	}

	t.Run("addressType is immutable", func(t *testing.T) {
		old := seedSlice()
		eps := old.DeepCopy()
		eps.AddressType = discoveryv1.AddressTypeFQDN
		eps.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"model.example.com"}}}
		assertErrorPrefixes(t, kind.ValidateUpdate(context.Background(), eps, old), []string{`addressType: Invalid value: "FQDN": field is immutable`})
	})
}

func TestGeneration(t *testing.T) {
	kind := Kinds()[0]
	if kind.AllowCreateOnUpdate {
		t.Error("EndpointSlice must not be created by update")
	}
	eps := seedSlice()
	eps.Endpoints[0].DeprecatedTopology = map[string]string{"kubernetes.io/hostname": "node-1"}
	kind.PrepareForCreate(context.Background(), eps)
	if eps.Generation != 1 {
		t.Errorf("generation after create = %d, want 1", eps.Generation)
	}
	if eps.Endpoints[0].DeprecatedTopology != nil {
		t.Errorf("deprecatedTopology kept on create: %v", eps.Endpoints[0].DeprecatedTopology)
	}

	tests := []struct {
		name   string
		mutate func(*discoveryv1.EndpointSlice)
		want   int64
	}{
		{name: "annotation only", mutate: func(e *discoveryv1.EndpointSlice) { e.Annotations = map[string]string{"a": "b"} }, want: 1},
		{name: "label", mutate: func(e *discoveryv1.EndpointSlice) { e.Labels["extra"] = "x" }, want: 2},
		{name: "endpoint ready", mutate: func(e *discoveryv1.EndpointSlice) { e.Endpoints[1].Conditions.Ready = ptr.To(true) }, want: 2},
		{name: "port", mutate: func(e *discoveryv1.EndpointSlice) { e.Ports[0].Port = ptr.To[int32](9090) }, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := eps.DeepCopy()
			next := old.DeepCopy()
			tt.mutate(next)
			kind.PrepareForUpdate(context.Background(), next, old)
			if next.Generation != tt.want {
				t.Errorf("generation = %d, want %d", next.Generation, tt.want)
			}
		})
	}
}

func TestTable(t *testing.T) {
	kind := Kinds()[0]
	var names []string
	for _, c := range kind.Columns {
		names = append(names, strings.ToUpper(c.Name))
	}
	if got, want := strings.Join(names, " "), "ADDRESSTYPE PORTS ENDPOINTS AGE"; got != want {
		t.Errorf("columns = %q, want %q", got, want)
	}
	tests := []struct {
		name   string
		mutate func(*discoveryv1.EndpointSlice)
		want   []interface{}
	}{
		{name: "seed", mutate: func(*discoveryv1.EndpointSlice) {}, want: []interface{}{"IPv4", "8080", "10.42.0.5,10.42.0.6", "2d"}},
		{
			name: "empty",
			mutate: func(e *discoveryv1.EndpointSlice) {
				e.Endpoints, e.Ports = nil, nil
			},
			want: []interface{}{"IPv4", "<unset>", "<unset>", "2d"},
		},
		{
			name: "many",
			mutate: func(e *discoveryv1.EndpointSlice) {
				e.Ports = append(e.Ports,
					discoveryv1.EndpointPort{Name: ptr.To("metrics"), Port: ptr.To[int32](9090)},
					discoveryv1.EndpointPort{Name: ptr.To("grpc"), Port: ptr.To[int32](50051)},
					discoveryv1.EndpointPort{Name: ptr.To("debug"), Port: ptr.To[int32](6060)})
				e.Endpoints = append(e.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.42.1.7", "10.42.1.8"}})
			},
			want: []interface{}{"IPv4", "8080,9090,50051 + 1 more...", "10.42.0.5,10.42.0.6,10.42.1.7 + 1 more...", "2d"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := seedSlice()
			eps.CreationTimestamp = metav1.NewTime(time.Now().Add(-48*time.Hour - time.Minute))
			tt.mutate(eps)
			got, err := kind.Row(eps)
			if err != nil {
				t.Fatal(err)
			}
			if !apiequality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("row = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// assertErrorPrefixes checks that errs holds one error per wanted line, each
// starting with it.
func assertErrorPrefixes(t *testing.T, errs field.ErrorList, want []string) {
	t.Helper()
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("errors:\n got %q\nwant prefixes %q", got, want)
	}
}
