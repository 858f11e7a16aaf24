package apiserver

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func crd(group string, established bool, versions ...apiextensionsv1.CustomResourceDefinitionVersion) *apiextensionsv1.CustomResourceDefinition {
	c := &apiextensionsv1.CustomResourceDefinition{Spec: apiextensionsv1.CustomResourceDefinitionSpec{Group: group, Versions: versions}}
	if established {
		c.Status.Conditions = []apiextensionsv1.CustomResourceDefinitionCondition{{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue}}
	}
	return c
}

func served(name string) apiextensionsv1.CustomResourceDefinitionVersion {
	return apiextensionsv1.CustomResourceDefinitionVersion{Name: name, Served: true}
}

func TestCRDAPIGroups(t *testing.T) {
	gv := func(g, v string) metav1.GroupVersionForDiscovery {
		return metav1.GroupVersionForDiscovery{GroupVersion: g + "/" + v, Version: v}
	}
	for _, tc := range []struct {
		name string
		crds []*apiextensionsv1.CustomResourceDefinition
		want []metav1.APIGroup
	}{
		{"none", nil, []metav1.APIGroup{}},
		{"not established", []*apiextensionsv1.CustomResourceDefinition{crd("a.io", false, served("v1"))}, []metav1.APIGroup{}},
		{
			"versions in Kubernetes order, unserved left out, groups merged",
			[]*apiextensionsv1.CustomResourceDefinition{
				crd("b.io", true, served("v1beta1"), served("v1"), apiextensionsv1.CustomResourceDefinitionVersion{Name: "v3"}),
				crd("b.io", true, served("v2")),
				crd("a.io", true, served("v1alpha1")),
			},
			[]metav1.APIGroup{
				{Name: "a.io", Versions: []metav1.GroupVersionForDiscovery{gv("a.io", "v1alpha1")}, PreferredVersion: gv("a.io", "v1alpha1")},
				{Name: "b.io", Versions: []metav1.GroupVersionForDiscovery{gv("b.io", "v2"), gv("b.io", "v1"), gv("b.io", "v1beta1")}, PreferredVersion: gv("b.io", "v2")},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, CRDAPIGroups(tc.crds)); diff != "" {
				t.Errorf("CRDAPIGroups (-want +got):\n%s", diff)
			}
		})
	}
}
