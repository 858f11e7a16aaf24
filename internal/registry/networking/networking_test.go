package networking

import (
	"context"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/registry/store"
)

func kindNamed(t *testing.T, name string) *store.Kind {
	t.Helper()
	for _, k := range Kinds() {
		if k.Kind == name {
			return k
		}
	}
	t.Fatalf("no kind %s", name)
	return nil
}

func seedIngress() *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "ml-model", Namespace: "production"},
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host: "ml-model.example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     "/",
						PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: "ml-model",
							Port: networkingv1.ServiceBackendPort{Number: 80},
						}},
					}},
				}},
			}},
		},
	}
}

func firstPath(ing *networkingv1.Ingress) *networkingv1.HTTPIngressPath {
	return &ing.Spec.Rules[0].HTTP.Paths[0]
}

func TestValidateIngress(t *testing.T) {
	kind := kindNamed(t, "Ingress")
	const p = "spec.rules[0].http.paths[0]"
	tests := []struct {
		name   string
		mutate func(*networkingv1.Ingress)
		want   []string // each error must start with the line
	}{
		{name: "seed ingress", mutate: func(*networkingv1.Ingress) {}},
		{
			name:   "neither rules nor defaultBackend",
			mutate: func(i *networkingv1.Ingress) { i.Spec.Rules = nil },
			want:   []string{"spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"},
		},
		{
			name: "defaultBackend only",
			mutate: func(i *networkingv1.Ingress) {
				i.Spec.DefaultBackend = firstPath(i).Backend.DeepCopy()
				i.Spec.Rules = nil
			},
		},
		{
			name:   "pathType missing",
			mutate: func(i *networkingv1.Ingress) { firstPath(i).PathType = nil },
			want:   []string{p + ".pathType: Required value: pathType must be specified"},
		},
		{
			name:   "pathType unknown",
			mutate: func(i *networkingv1.Ingress) { firstPath(i).PathType = ptr.To(networkingv1.PathType("Regex")) },
			want:   []string{p + `.pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"`},
		},
		{
			name:   "relative prefix path",
			mutate: func(i *networkingv1.Ingress) { firstPath(i).Path = "predict" },
			want:   []string{p + `.path: Invalid value: "predict": must be an absolute path`},
		},
		{
			name: "exact path with dot segment",
			mutate: func(i *networkingv1.Ingress) {
				firstPath(i).PathType = ptr.To(networkingv1.PathTypeExact)
				firstPath(i).Path = "/v1/./predict"
			},
			want: []string{p + `.path: Invalid value: "/v1/./predict": must not contain '/./'`},
		},
		{
			name: "implementation specific empty path",
			mutate: func(i *networkingv1.Ingress) {
				firstPath(i).PathType = ptr.To(networkingv1.PathTypeImplementationSpecific)
				firstPath(i).Path = ""
			},
		},
		{
			name:   "service name missing",
			mutate: func(i *networkingv1.Ingress) { firstPath(i).Backend.Service.Name = "" },
			want:   []string{p + ".backend.service.name: Required value"},
		},
		{
			name:   "service port missing",
			mutate: func(i *networkingv1.Ingress) { firstPath(i).Backend.Service.Port = networkingv1.ServiceBackendPort{} },
			want:   []string{p + ".backend: Required value: port name or number is required"},
		},
		{
			name:   "service port name and number",
			mutate: func(i *networkingv1.Ingress) { firstPath(i).Backend.Service.Port.Name = "http" },
			want:   []string{p + `.backend: Invalid value: "": cannot set both port name & port number`},
		},
		{
			name:   "service port out of range",
			mutate: func(i *networkingv1.Ingress) { firstPath(i).Backend.Service.Port.Number = 70000 },
			want:   []string{p + ".backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive"},
		},
		{
			name:   "no backend",
			mutate: func(i *networkingv1.Ingress) { firstPath(i).Backend = networkingv1.IngressBackend{} },
			want:   []string{p + `.backend: Invalid value: "": resource or service backend is required`},
		},
		{
			name:   "host is an IP",
			mutate: func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "10.0.0.1" },
			want:   []string{`spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address`},
		},
		{
			name:   "wildcard host",
			mutate: func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "*.example.com" },
		},
		{
			name:   "wildcard not leading",
			mutate: func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "api.*.example.com" },
			want:   []string{`spec.rules[0].host: Invalid value: "api.*.example.com": a wildcard DNS-1123 subdomain must start with '*.'`},
		},
		{
			name:   "empty http paths",
			mutate: func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths = nil },
			want:   []string{"spec.rules[0].http.paths: Required value"},
		},
		{
			name: "tls",
			mutate: func(i *networkingv1.Ingress) {
				i.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"ml-model.example.com", "Bad_Host"}, SecretName: "ml-model_tls"}}
			},
			want: []string{
				`spec.tls[0].hosts[1]: Invalid value: "Bad_Host": a lowercase RFC 1123 subdomain`,
				`spec.tls[0].secretName: Invalid value: "ml-model_tls": a lowercase RFC 1123 subdomain`,
			},
		},
		{
			name:   "class annotation disagrees",
			mutate: func(i *networkingv1.Ingress) { setClass(i, "nginx", "skiff") },
			want:   []string{`annotations.kubernetes.io/ingress.class: Invalid value: "nginx": must match ` + "`ingressClassName`" + ` when both are specified`},
		},
		{
			name:   "class annotation agrees",
			mutate: func(i *networkingv1.Ingress) { setClass(i, "skiff", "skiff") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ing := seedIngress()
			tt.mutate(ing)
			assertErrorPrefixes(t, kind.Validate(context.Background(), ing).ToAggregate(), tt.want)
		})
	}

	t.Run("update keeps a stored invalid wildcard rule writable", func(t *testing.T) {
		old := seedIngress()
		old.Spec.Rules[0].Host = "*.example.com"
		old.Spec.Rules[0].HTTP.Paths[0].PathType = nil
		ing := old.DeepCopy()
		ing.Labels = map[string]string{"tier": "edge"}
		assertErrorPrefixes(t, kind.ValidateUpdate(context.Background(), ing, old).ToAggregate(), nil)
		// A new object with the same rule is rejected.
		assertErrorPrefixes(t, kind.Validate(context.Background(), ing).ToAggregate(),
			[]string{p + ".pathType: Required value: pathType must be specified"})
	})
}

func setClass(i *networkingv1.Ingress, annotation, class string) {
	i.Annotations = map[string]string{IngressClassAnnotation: annotation}
	i.Spec.IngressClassName = ptr.To(class)
}

func TestIngressWarnings(t *testing.T) {
	kind := kindNamed(t, "Ingress")
	ing := seedIngress()
	ing.Annotations = map[string]string{IngressClassAnnotation: "nginx"}
	create := genericapirequest.WithRequestInfo(context.Background(), &genericapirequest.RequestInfo{Verb: "create"})
	want := []string{`annotation "kubernetes.io/ingress.class" is deprecated, please use 'spec.ingressClassName' instead`}
	if got := kind.Warnings(create, ing); !apiequality.Semantic.DeepEqual(got, want) {
		t.Errorf("create warnings = %q, want %q", got, want)
	}
	update := genericapirequest.WithRequestInfo(context.Background(), &genericapirequest.RequestInfo{Verb: "update"})
	if got := kind.Warnings(update, ing); got != nil {
		t.Errorf("update warnings = %q, want none", got)
	}
	if got := kind.Warnings(create, seedIngress()); got != nil {
		t.Errorf("warnings without the annotation = %q", got)
	}
}

func TestIngressTable(t *testing.T) {
	kind := kindNamed(t, "Ingress")
	assertColumns(t, kind, "CLASS HOSTS ADDRESS PORTS AGE")
	tests := []struct {
		name   string
		mutate func(*networkingv1.Ingress)
		want   []interface{}
	}{
		{name: "seed", mutate: func(*networkingv1.Ingress) {}, want: []interface{}{"<none>", "ml-model.example.com", "", "80", "5m"}},
		{
			name: "class, tls and addresses",
			mutate: func(i *networkingv1.Ingress) {
				i.Spec.IngressClassName = ptr.To("skiff")
				i.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"ml-model.example.com"}}}
				i.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "192.168.1.20"}, {Hostname: "lb.example.com"}, {IP: "192.168.1.10"}, {IP: "192.168.1.20"}}
			},
			want: []interface{}{"skiff", "ml-model.example.com", "192.168.1.10,192.168.1.20,lb.example.com", "80, 443", "5m"},
		},
		{
			name:   "no host",
			mutate: func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "" },
			want:   []interface{}{"<none>", "*", "", "80", "5m"},
		},
		{
			name: "many hosts",
			mutate: func(i *networkingv1.Ingress) {
				for _, h := range []string{"b.example.com", "", "d.example.com", "e.example.com"} {
					r := i.Spec.Rules[0].DeepCopy()
					r.Host = h
					i.Spec.Rules = append(i.Spec.Rules, *r)
				}
			},
			want: []interface{}{"<none>", "ml-model.example.com,b.example.com,d.example.com + 2 more...", "", "80", "5m"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ing := seedIngress()
			ing.CreationTimestamp = metav1.NewTime(time.Now().Add(-5 * time.Minute))
			tt.mutate(ing)
			assertRow(t, kind, ing, tt.want)
		})
	}
}

func seedIngressClass() *networkingv1.IngressClass {
	return &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: "skiff"},
		Spec:       networkingv1.IngressClassSpec{Controller: "skiff.dev/ingress"},
	}
}

func TestIngressClass(t *testing.T) {
	kind := kindNamed(t, "IngressClass")
	if kind.Namespaced {
		t.Error("IngressClass must be cluster-scoped")
	}

	scheme := runtime.NewScheme()
	RegisterDefaults(scheme)
	ic := seedIngressClass()
	ic.Spec.Parameters = &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("skiff.dev"), Kind: "GatewayConfig", Name: "default"}
	scheme.Default(ic)
	if s := ic.Spec.Parameters.Scope; s == nil || *s != networkingv1.IngressClassParametersReferenceScopeCluster {
		t.Errorf("parameters.scope = %v, want Cluster", s)
	}
	assertErrorPrefixes(t, kind.Validate(context.Background(), ic).ToAggregate(), nil)

	tests := []struct {
		name   string
		mutate func(*networkingv1.IngressClass)
		want   []string
	}{
		{name: "controller missing", mutate: func(c *networkingv1.IngressClass) { c.Spec.Controller = "" }, want: []string{"spec.controller: Required value"}},
		{
			name:   "controller not domain-prefixed",
			mutate: func(c *networkingv1.IngressClass) { c.Spec.Controller = "ingress" },
			want:   []string{`spec.controller: Invalid value: "ingress": must be a domain-prefixed path (such as "acme.io/foo")`},
		},
		{
			name: "namespace scope without namespace",
			mutate: func(c *networkingv1.IngressClass) {
				c.Spec.Parameters = &networkingv1.IngressClassParametersReference{Kind: "Config", Name: "x", Scope: ptr.To("Namespace")}
			},
			want: []string{"spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"},
		},
		{
			name: "unknown scope",
			mutate: func(c *networkingv1.IngressClass) {
				c.Spec.Parameters = &networkingv1.IngressClassParametersReference{Name: "x", Scope: ptr.To("Global")}
			},
			want: []string{
				"spec.parameters.kind: Required value: kind is required",
				`spec.parameters.scope: Unsupported value: "Global": supported values: "Cluster", "Namespace"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := seedIngressClass()
			tt.mutate(c)
			assertErrorPrefixes(t, kind.Validate(context.Background(), c).ToAggregate(), tt.want)
		})
	}

	t.Run("controller is immutable", func(t *testing.T) {
		old := seedIngressClass()
		c := old.DeepCopy()
		c.Spec.Controller = "example.com/other"
		assertErrorPrefixes(t, kind.ValidateUpdate(context.Background(), c, old).ToAggregate(),
			[]string{`spec.controller: Invalid value: "example.com/other": field is immutable`})
	})

	assertColumns(t, kind, "CONTROLLER PARAMETERS AGE")
	c := seedIngressClass()
	c.CreationTimestamp = metav1.NewTime(time.Now().Add(-3 * time.Hour))
	assertRow(t, kind, c, []interface{}{"skiff.dev/ingress", "<none>", "3h"})
	c.Spec.Parameters = &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("skiff.dev"), Kind: "GatewayConfig", Name: "default"}
	assertRow(t, kind, c, []interface{}{"skiff.dev/ingress", "GatewayConfig.skiff.dev/default", "3h"})
}

func assertColumns(t *testing.T, kind *store.Kind, want string) {
	t.Helper()
	var names []string
	for _, c := range kind.Columns {
		if c.Priority == 0 {
			names = append(names, strings.ToUpper(c.Name))
		}
	}
	if got := strings.Join(names, " "); got != want {
		t.Errorf("columns = %q, want %q", got, want)
	}
}

func assertRow(t *testing.T, kind *store.Kind, obj runtime.Object, want []interface{}) {
	t.Helper()
	got, err := kind.Row(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !apiequality.Semantic.DeepEqual(got, want) {
		t.Errorf("row = %#v, want %#v", got, want)
	}
}

// assertErrorPrefixes checks that err holds one error per wanted line, each
// starting with it.
func assertErrorPrefixes(t *testing.T, err interface{ Errors() []error }, want []string) {
	t.Helper()
	var got []string
	if err != nil {
		for _, e := range err.Errors() {
			got = append(got, e.Error())
		}
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("errors:\n got %q\nwant prefixes %q", got, want)
	}
}
