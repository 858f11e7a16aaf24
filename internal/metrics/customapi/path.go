package customapi

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group and Version are the API served.
const (
	Group   = "custom.metrics.k8s.io"
	Version = "v1beta2"
)

// Prefix is the path of the group version.
const Prefix = "/apis/" + Group + "/" + Version

// AllObjects names every object of a resource, filtered by labelSelector.
const AllObjects = "*"

// request is what a metrics path asks for.
type request struct {
	// discovery asks for the group version's resource list.
	discovery bool
	// Namespace is the namespace of the object (or the namespace itself
	// for namespace metrics).
	Namespace string
	// Resource is the resource of the described object: pods,
	// deployments.apps ... or namespaces.
	Resource schema.GroupResource
	// Name is the object's name or AllObjects.
	Name   string
	Metric string
}

// parsePath reads a path under Prefix (the rest after it):
//
//	""                                            the resource list
//	namespaces/{ns}/metrics/{metric}              a namespace's metric
//	namespaces/{ns}/{resource}/{name|*}/{metric}  namespaced objects' metric
//	{resource}/{name|*}/{metric}                  cluster-scoped objects' metric
func parsePath(rest string) (request, error) {
	rest = strings.Trim(rest, "/")
	if rest == "" {
		return request{discovery: true}, nil
	}
	p := strings.Split(rest, "/")
	for _, s := range p {
		if s == "" {
			return request{}, fmt.Errorf("empty path segment in %q", rest)
		}
	}
	switch {
	case len(p) == 4 && p[0] == "namespaces" && p[2] == "metrics":
		return request{Namespace: p[1], Resource: schema.GroupResource{Resource: "namespaces"}, Name: p[1], Metric: p[3]}, nil
	case len(p) == 5 && p[0] == "namespaces":
		return request{Namespace: p[1], Resource: schema.ParseGroupResource(p[2]), Name: p[3], Metric: p[4]}, nil
	case len(p) == 3:
		return request{Resource: schema.ParseGroupResource(p[0]), Name: p[1], Metric: p[2]}, nil
	}
	return request{}, fmt.Errorf("no custom metrics at %q: want namespaces/{namespace}/{resource}/{name}/{metric}, namespaces/{namespace}/metrics/{metric} or {resource}/{name}/{metric}", rest)
}
