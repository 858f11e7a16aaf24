//go:build integration

package apiserver_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/testserver"
)

var modelsGVR = schema.GroupVersionResource{Group: "ml.example.com", Version: "v1", Resource: "models"}

// modelCRD is a namespaced Model with a defaulted, bounded replicas field, a
// CEL rule, the status and scale subresources, a printer column, a short
// name and a category.
func modelCRD() *apiextensionsv1.CustomResourceDefinition {
	schemaProps := &apiextensionsv1.JSONSchemaProps{
		Type: "object",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"spec": {
				Type:     "object",
				Required: []string{"image"},
				Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"image":       {Type: "string"},
					"replicas":    {Type: "integer", Minimum: ptr.To(0.0), Default: &apiextensionsv1.JSON{Raw: []byte("1")}},
					"maxReplicas": {Type: "integer", Default: &apiextensionsv1.JSON{Raw: []byte("10")}},
				},
				XValidations: apiextensionsv1.ValidationRules{{
					Rule: "self.replicas <= self.maxReplicas", Message: "replicas must not exceed maxReplicas",
				}},
			},
			"status": {
				Type:       "object",
				Properties: map[string]apiextensionsv1.JSONSchemaProps{"replicas": {Type: "integer"}},
			},
		},
	}
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "models.ml.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "ml.example.com",
			Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Plural: "models", Singular: "model", Kind: "Model", ListKind: "ModelList",
				ShortNames: []string{"mdl"}, Categories: []string{"ml"},
			},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: schemaProps},
				Subresources: &apiextensionsv1.CustomResourceSubresources{
					Status: &apiextensionsv1.CustomResourceSubresourceStatus{},
					Scale: &apiextensionsv1.CustomResourceSubresourceScale{
						SpecReplicasPath: ".spec.replicas", StatusReplicasPath: ".status.replicas",
					},
				},
				AdditionalPrinterColumns: []apiextensionsv1.CustomResourceColumnDefinition{
					{Name: "Image", Type: "string", JSONPath: ".spec.image"},
				},
			}},
		},
	}
}

// createCRD creates crd and waits until it is established.
func createCRD(t *testing.T, client apiextensionsclient.Interface, crd *apiextensionsv1.CustomResourceDefinition) {
	t.Helper()
	ctx := context.Background()
	if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create CRD: %v", err)
	}
	testserver.Poll(t, 30*time.Second, "CRD established", func() error {
		got, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("conditions %v", got.Status.Conditions)
	})
}

func model(name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "ml.example.com/v1", "kind": "Model",
		"metadata": map[string]any{"name": name},
		"spec":     spec,
	}}
}

// A CustomResourceDefinition served by apiextensions-apiserver in skiff's
// chain: its resources are served, validated (422 naming the field, CEL
// rules), defaulted and pruned, with the scale subresource, and discovery
// shows the group, short name and category.
func TestCustomResourceDefinitions(t *testing.T) {
	srv := testserver.Start(t, nil)
	ctx := context.Background()
	ext := apiextensionsclient.NewForConfigOrDie(srv.Config)
	dyn := dynamic.NewForConfigOrDie(srv.Config)
	createCRD(t, ext, modelCRD())
	models := dyn.Resource(modelsGVR).Namespace("default")

	t.Run("defaulted and pruned", func(t *testing.T) {
		var got *unstructured.Unstructured
		testserver.Poll(t, 10*time.Second, "create Model", func() error {
			var err error
			got, err = models.Create(ctx, model("llama", map[string]any{"image": "llama:3", "unknown": "x"}), metav1.CreateOptions{})
			return err
		})
		replicas, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas")
		if replicas != 1 {
			t.Errorf("spec.replicas = %d, want the default 1", replicas)
		}
		if _, found, _ := unstructured.NestedFieldNoCopy(got.Object, "spec", "unknown"); found {
			t.Errorf("spec.unknown was kept, want it pruned: %v", got.Object["spec"])
		}
	})

	t.Run("validation", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			spec  map[string]any
			field string
		}{
			{"minimum", map[string]any{"image": "x", "replicas": -1}, "spec.replicas"},
			{"required", map[string]any{"replicas": 1}, "spec.image"},
			{"type", map[string]any{"image": 3}, "spec.image"},
			{"CEL rule", map[string]any{"image": "x", "replicas": 20}, "replicas must not exceed maxReplicas"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := models.Create(ctx, model("bad", tc.spec), metav1.CreateOptions{})
				if !apierrors.IsInvalid(err) {
					t.Fatalf("create: %v, want 422 Invalid", err)
				}
				if !strings.Contains(err.Error(), tc.field) {
					t.Errorf("error %q does not name %q", err, tc.field)
				}
			})
		}
	})

	t.Run("status and scale", func(t *testing.T) {
		scale, err := dyn.Resource(modelsGVR).Namespace("default").Get(ctx, "llama", metav1.GetOptions{}, "scale")
		if err != nil {
			t.Fatalf("get scale: %v", err)
		}
		if kind := scale.GetKind(); kind != "Scale" {
			t.Errorf("scale kind %q", kind)
		}
		patch := []byte(`{"spec":{"replicas":3}}`)
		if _, err := models.Patch(ctx, "llama", "application/merge-patch+json", patch, metav1.PatchOptions{}, "scale"); err != nil {
			t.Fatalf("patch scale: %v", err)
		}
		got, err := models.Get(ctx, "llama", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas"); r != 3 {
			t.Errorf("spec.replicas = %d after scaling to 3", r)
		}
		got.Object["status"] = map[string]any{"replicas": int64(3)}
		if _, err := models.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("update status: %v", err)
		}
	})

	t.Run("discovery", func(t *testing.T) {
		dc := discovery.NewDiscoveryClientForConfigOrDie(srv.Config)
		testserver.Poll(t, 10*time.Second, "models in discovery", func() error {
			list, err := dc.ServerResourcesForGroupVersion("ml.example.com/v1")
			if err != nil {
				return err
			}
			for _, r := range list.APIResources {
				if r.Name == "models" {
					if !slices.Equal(r.ShortNames, []string{"mdl"}) || !slices.Equal(r.Categories, []string{"ml"}) {
						return fmt.Errorf("short names %v, categories %v", r.ShortNames, r.Categories)
					}
					return nil
				}
			}
			return fmt.Errorf("no models in %v", list.APIResources)
		})
		// Both forms of /apis list the group: aggregated (what kubectl
		// reads) and the legacy APIGroupList.
		testserver.Poll(t, 10*time.Second, "ml.example.com in /apis", func() error {
			groups, err := dc.ServerGroups()
			if err != nil {
				return err
			}
			for _, g := range groups.Groups {
				if g.Name == "ml.example.com" {
					return nil
				}
			}
			return fmt.Errorf("not in %d groups", len(groups.Groups))
		})
		raw, err := dc.RESTClient().Get().AbsPath("/apis").SetHeader("Accept", "application/json").DoRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var legacy metav1.APIGroupList
		if err := json.Unmarshal(raw, &legacy); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"ml.example.com", "apiextensions.k8s.io", "apps"} {
			if !slices.ContainsFunc(legacy.Groups, func(g metav1.APIGroup) bool { return g.Name == name }) {
				t.Errorf("legacy /apis does not list %s", name)
			}
		}
	})

	t.Run("openapi", func(t *testing.T) {
		testserver.Poll(t, 10*time.Second, "Model in /openapi/v2 and /openapi/v3", func() error {
			v2, err := srv.Client.Discovery().RESTClient().Get().AbsPath("/openapi/v2").SetHeader("Accept", "application/json").DoRaw(ctx)
			if err != nil {
				return err
			}
			if !strings.Contains(string(v2), "com.example.ml.v1.Model") {
				return fmt.Errorf("/openapi/v2 has no com.example.ml.v1.Model")
			}
			if !strings.Contains(string(v2), "io.k8s.api.core.v1.Pod") {
				return fmt.Errorf("/openapi/v2 lost the built-in types")
			}
			v3, err := srv.Client.Discovery().RESTClient().Get().AbsPath("/openapi/v3/apis/ml.example.com/v1").DoRaw(ctx)
			if err != nil {
				return err
			}
			if !strings.Contains(string(v3), "com.example.ml.v1.Model") {
				return fmt.Errorf("/openapi/v3/apis/ml.example.com/v1 has no com.example.ml.v1.Model")
			}
			return nil
		})
	})

	t.Run("deleting the CRD deletes its resources", func(t *testing.T) {
		if err := ext.ApiextensionsV1().CustomResourceDefinitions().Delete(ctx, "models.ml.example.com", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		testserver.Poll(t, 30*time.Second, "CRD gone", func() error {
			_, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "models.ml.example.com", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still there: %v", err)
		})
		// A CRD of the same name again starts empty.
		createCRD(t, ext, modelCRD())
		list, err := models.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 0 {
			t.Errorf("%d Models survived their CRD", len(list.Items))
		}
	})
}

// A CRD whose versions differ in shape converts through its webhook: v1's
// spec.size is v2's spec.replicas.
func TestCustomResourceConversionWebhook(t *testing.T) {
	hook := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review apiextensionsv1.ConversionReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp := &apiextensionsv1.ConversionResponse{UID: review.Request.UID, Result: metav1.Status{Status: metav1.StatusSuccess}}
		for _, raw := range review.Request.Objects {
			var obj map[string]any
			if err := json.Unmarshal(raw.Raw, &obj); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			spec, _ := obj["spec"].(map[string]any)
			from, to := "size", "replicas"
			if review.Request.DesiredAPIVersion == "conv.example.com/v1" {
				from, to = to, from
			}
			if v, ok := spec[from]; ok && obj["apiVersion"] != review.Request.DesiredAPIVersion {
				delete(spec, from)
				spec[to] = v
			}
			obj["apiVersion"] = review.Request.DesiredAPIVersion
			b, _ := json.Marshal(obj)
			resp.ConvertedObjects = append(resp.ConvertedObjects, runtime.RawExtension{Raw: b})
		}
		review.Response, review.Request = resp, nil
		_ = json.NewEncoder(w).Encode(&review)
	}))
	defer hook.Close()
	caBundle := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hook.Certificate().Raw})

	srv := testserver.Start(t, nil)
	ctx := context.Background()
	ext := apiextensionsclient.NewForConfigOrDie(srv.Config)
	dyn := dynamic.NewForConfigOrDie(srv.Config)
	version := func(name, field string, storage bool) apiextensionsv1.CustomResourceDefinitionVersion {
		return apiextensionsv1.CustomResourceDefinitionVersion{Name: name, Served: true, Storage: storage,
			Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
				Type: "object",
				Properties: map[string]apiextensionsv1.JSONSchemaProps{"spec": {
					Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{field: {Type: "integer"}},
				}},
			}}}
	}
	createCRD(t, ext, &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "pools.conv.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "conv.example.com", Scope: apiextensionsv1.NamespaceScoped,
			Names:    apiextensionsv1.CustomResourceDefinitionNames{Plural: "pools", Singular: "pool", Kind: "Pool", ListKind: "PoolList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{version("v1", "size", false), version("v2", "replicas", true)},
			Conversion: &apiextensionsv1.CustomResourceConversion{
				Strategy: apiextensionsv1.WebhookConverter,
				Webhook: &apiextensionsv1.WebhookConversion{
					ConversionReviewVersions: []string{"v1"},
					ClientConfig:             &apiextensionsv1.WebhookClientConfig{URL: ptr.To(hook.URL + "/convert"), CABundle: caBundle},
				},
			},
		},
	})
	v1 := dyn.Resource(schema.GroupVersionResource{Group: "conv.example.com", Version: "v1", Resource: "pools"}).Namespace("default")
	v2 := dyn.Resource(schema.GroupVersionResource{Group: "conv.example.com", Version: "v2", Resource: "pools"}).Namespace("default")
	pool := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "conv.example.com/v1", "kind": "Pool",
		"metadata": map[string]any{"name": "p"}, "spec": map[string]any{"size": int64(2)},
	}}
	testserver.Poll(t, 10*time.Second, "create v1 Pool", func() error {
		_, err := v1.Create(ctx, pool, metav1.CreateOptions{})
		return err
	})
	got, err := v2.Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas"); r != 2 {
		t.Errorf("v2 spec %v, want replicas 2", got.Object["spec"])
	}
	got, err = v1.Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, _, _ := unstructured.NestedInt64(got.Object, "spec", "size"); s != 2 {
		t.Errorf("v1 spec %v, want size 2", got.Object["spec"])
	}
}
