package apiserver

import (
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff.dev/skiff/internal/metrics/customapi"
	"skiff.dev/skiff/internal/metrics/resourceapi"
	rbacregistry "skiff.dev/skiff/internal/registry/rbac"
)

// Every group version skiff serves gets a local APIService: the
// aggregator registers none for a version without a priority, and leaves
// it out of /apis.
func TestAPIServicePrioritiesCoverServedGroups(t *testing.T) {
	served := []schema.GroupVersion{authenticationv1.SchemeGroupVersion, authorizationv1.SchemeGroupVersion, apiextensionsv1.SchemeGroupVersion,
		{Group: customapi.Group, Version: customapi.Version}, {Group: customapi.ExternalGroup, Version: customapi.ExternalVersion}}
	served = append(served, resourceapi.GroupVersions...)
	for _, g := range Groups(&rbacregistry.Guard{}) {
		served = append(served, g.Versions...)
	}
	for _, g := range upstreamGroups() {
		served = append(served, g.versions...)
	}
	priorities := apiServicePriorities()
	for _, gv := range served {
		if p, ok := priorities[gv]; !ok || p.Group <= 0 || p.Version <= 0 {
			t.Errorf("%s: no priority (%+v)", gv, p)
		}
	}
}
