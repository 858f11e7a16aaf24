package customapi

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestParsePath(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		path string
		want request
		err  bool
	}{
		{path: "", want: request{discovery: true}},
		{path: "/", want: request{discovery: true}},
		{path: "namespaces/prod/pods/web-1/http_requests_per_second", want: request{Namespace: "prod", Resource: pods, Name: "web-1", Metric: "http_requests_per_second"}},
		{path: "namespaces/prod/pods/*/http_requests_per_second", want: request{Namespace: "prod", Resource: pods, Name: "*", Metric: "http_requests_per_second"}},
		{path: "namespaces/prod/deployments.apps/web/rps", want: request{Namespace: "prod", Resource: schema.GroupResource{Group: "apps", Resource: "deployments"}, Name: "web", Metric: "rps"}},
		{path: "namespaces/prod/metrics/rps", want: request{Namespace: "prod", Resource: schema.GroupResource{Resource: "namespaces"}, Name: "prod", Metric: "rps"}},
		{path: "nodes/n1/load", want: request{Resource: schema.GroupResource{Resource: "nodes"}, Name: "n1", Metric: "load"}},
		{path: "namespaces/prod/pods/web-1", err: true},
		{path: "namespaces/prod/pods//rps", err: true},
		{path: "pods", err: true},
		{path: "namespaces/prod/pods/a/b/c", err: true},
	}
	for _, tt := range tests {
		got, err := parsePath(tt.path)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parsePath(%q) = %+v, %v; want %+v, error %v", tt.path, got, err, tt.want, tt.err)
		}
	}
}
