package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// kubernetesResources are the resources Kubernetes 1.37's kube-apiserver
// (with its aggregator and apiextensions-apiserver) serves by default, as
// `kubectl api-resources -o name` names them: the GA group versions of
// k8s.io/kubernetes@v1.37.2's DefaultAPIResourceConfigSource
// (pkg/controlplane/instance.go), with the resources their REST storage
// providers (pkg/registry/*/rest) serve under the feature gates on by
// default, plus apiextensions.k8s.io and apiregistration.k8s.io.
var kubernetesResources = []string{
	// core/v1
	"bindings", "componentstatuses", "configmaps", "endpoints", "events", "limitranges", "namespaces", "nodes",
	"persistentvolumeclaims", "persistentvolumes", "pods", "podtemplates", "replicationcontrollers",
	"resourcequotas", "secrets", "serviceaccounts", "services",
	"mutatingadmissionpolicies.admissionregistration.k8s.io", "mutatingadmissionpolicybindings.admissionregistration.k8s.io",
	"mutatingwebhookconfigurations.admissionregistration.k8s.io", "validatingadmissionpolicies.admissionregistration.k8s.io",
	"validatingadmissionpolicybindings.admissionregistration.k8s.io", "validatingwebhookconfigurations.admissionregistration.k8s.io",
	"customresourcedefinitions.apiextensions.k8s.io",
	"apiservices.apiregistration.k8s.io",
	"controllerrevisions.apps", "daemonsets.apps", "deployments.apps", "replicasets.apps", "statefulsets.apps",
	"selfsubjectreviews.authentication.k8s.io", "tokenreviews.authentication.k8s.io",
	"localsubjectaccessreviews.authorization.k8s.io", "selfsubjectaccessreviews.authorization.k8s.io",
	"selfsubjectrulesreviews.authorization.k8s.io", "subjectaccessreviews.authorization.k8s.io",
	"horizontalpodautoscalers.autoscaling",
	"cronjobs.batch", "jobs.batch",
	"certificatesigningrequests.certificates.k8s.io", "clustertrustbundles.certificates.k8s.io",
	"podcertificaterequests.certificates.k8s.io",
	"leases.coordination.k8s.io",
	"endpointslices.discovery.k8s.io",
	"events.events.k8s.io",
	"flowschemas.flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io",
	"ingressclasses.networking.k8s.io", "ingresses.networking.k8s.io", "ipaddresses.networking.k8s.io",
	"networkpolicies.networking.k8s.io", "servicecidrs.networking.k8s.io",
	"runtimeclasses.node.k8s.io",
	"poddisruptionbudgets.policy",
	"clusterrolebindings.rbac.authorization.k8s.io", "clusterroles.rbac.authorization.k8s.io",
	"rolebindings.rbac.authorization.k8s.io", "roles.rbac.authorization.k8s.io",
	"deviceclasses.resource.k8s.io", "devicetaintrules.resource.k8s.io", "resourceclaims.resource.k8s.io",
	"resourceclaimtemplates.resource.k8s.io", "resourceslices.resource.k8s.io",
	"priorityclasses.scheduling.k8s.io",
	"csidrivers.storage.k8s.io", "csinodes.storage.k8s.io", "csistoragecapacities.storage.k8s.io",
	"storageclasses.storage.k8s.io", "volumeattachments.storage.k8s.io", "volumeattributesclasses.storage.k8s.io",
	"storageversionmigrations.storagemigration.k8s.io",
}

// readmeNotServed reads the resources the README lists as not served: the
// backquoted names in the list under "API kinds Kubernetes 1.37 serves by
// default that skiff does not serve".
func readmeNotServed(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "API kinds Kubernetes 1.37 serves by default that skiff does not serve")
	if !ok {
		t.Fatal("README.md has no list of the API kinds not served")
	}
	block, _, _ := strings.Cut(rest, "\n\n")
	var out []string
	// Each item names its resources, then gives the reason after "`: ".
	for _, item := range strings.Split(block, "\n  - ")[1:] {
		names, _, _ := strings.Cut(item, "`: ")
		for _, m := range regexp.MustCompile("`([a-z0-9.]+)`").FindAllStringSubmatch(names+"`", -1) {
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		t.Fatal("README.md lists no API kinds as not served")
	}
	return out
}

// TestAPIResources is issue 13's Done-when 7: `kubectl api-resources` lists
// every resource Kubernetes 1.37 serves by default except those the README
// names as not served, and none of those.
func TestAPIResources(t *testing.T) {
	t.Parallel()
	notServed := readmeNotServed(t)
	for _, r := range notServed {
		if !slices.Contains(kubernetesResources, r) {
			t.Errorf("README lists %q as not served, but Kubernetes 1.37 does not serve it by default", r)
		}
	}
	s := startServer(t, "--runtime", "fake")
	served := strings.Fields(s.ok("api-resources", "-o", "name"))
	for _, r := range kubernetesResources {
		switch listed := slices.Contains(notServed, r); {
		case listed && slices.Contains(served, r):
			t.Errorf("%s is served, but the README lists it as not served", r)
		case !listed && !slices.Contains(served, r):
			t.Errorf("%s is not in kubectl api-resources, nor in the README's list of kinds not served", r)
		}
	}
}
