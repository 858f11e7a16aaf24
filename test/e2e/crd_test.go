package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// modelCRD serves Model at v1 and v2 (conversion None; v2 stored), with
// defaults, a CEL rule, the status and scale subresources, printer
// columns, a short name and a category.
const modelCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: models.ml.example.com
spec:
  group: ml.example.com
  scope: Namespaced
  names: {plural: models, singular: model, kind: Model, listKind: ModelList, shortNames: [mdl], categories: [ml]}
  versions:
  - name: v1
    served: true
    storage: false
    schema: &schema
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What model to serve and how widely.
            required: [image]
            x-kubernetes-validations:
            - rule: self.replicas <= self.maxReplicas
              message: replicas must not exceed maxReplicas
            properties:
              image: {type: string, description: The model server image.}
              replicas: {type: integer, minimum: 0, default: 1, description: How many servers run the model.}
              maxReplicas: {type: integer, default: 10}
          status:
            type: object
            properties:
              replicas: {type: integer}
              phase: {type: string}
    subresources: &subresources
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns: &columns
    - {name: Image, type: string, jsonPath: .spec.image}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Phase, type: string, jsonPath: .status.phase}
  - name: v2
    served: true
    storage: true
    schema: *schema
    subresources: *subresources
    additionalPrinterColumns: *columns
`

var modelGVK = schema.GroupVersionKind{Group: "ml.example.com", Version: "v2", Kind: "Model"}

// TestCustomResources drives a CustomResourceDefinition as a user and an
// operator do: kubectl applies it and its resources (validated, defaulted,
// pruned), gets, scales and explains them; an operator built with
// controller-runtime reconciles them; their owned objects are garbage
// collected; deleting the CRD deletes its resources.
func TestCustomResources(t *testing.T) {
	s := startServer(t, "--runtime", "fake")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	s.kubectlIn(modelCRD, "apply", "-f", "-")
	s.ok("wait", "--for", "condition=Established", "--timeout", "30s", "crd/models.ml.example.com")

	t.Run("apply is validated, defaulted and pruned", func(t *testing.T) {
		r := s.kubectl("apiVersion: ml.example.com/v2\nkind: Model\nmetadata: {name: bad}\nspec: {image: llama, replicas: -1}\n", nil, "apply", "-f", "-")
		if r.Code != 1 || !strings.Contains(r.Stderr, `The Model "bad" is invalid`) || !strings.Contains(r.Stderr, "spec.replicas: Invalid value: -1") {
			t.Errorf("apply of replicas -1: exit %d, stderr %q; want 422 naming spec.replicas", r.Code, r.Stderr)
		}
		r = s.kubectl("apiVersion: ml.example.com/v2\nkind: Model\nmetadata: {name: bad}\nspec: {image: llama, replicas: 20}\n", nil, "apply", "-f", "-")
		if r.Code != 1 || !strings.Contains(r.Stderr, "spec: Invalid value") || !strings.Contains(r.Stderr, "replicas must not exceed maxReplicas") {
			t.Errorf("apply breaking the CEL rule: exit %d, stderr %q", r.Code, r.Stderr)
		}
		// kubectl's strict field validation refuses an unknown field; without
		// it the server prunes the field.
		withUnknown := "apiVersion: ml.example.com/v2\nkind: Model\nmetadata: {name: llama}\nspec: {image: llama:3, unknown: x}\n"
		r = s.kubectl(withUnknown, nil, "apply", "-f", "-")
		if r.Code != 1 || !strings.Contains(r.Stderr, `unknown field "spec.unknown"`) {
			t.Errorf("strict apply with an unknown field: exit %d, stderr %q", r.Code, r.Stderr)
		}
		if out := s.kubectlIn(withUnknown, "apply", "--validate=false", "-f", "-"); !strings.Contains(out, "model.ml.example.com/llama created") {
			t.Errorf("apply: %q", out)
		}
		if got := s.ok("get", "model", "llama", "-o", "jsonpath={.spec}"); got != `{"image":"llama:3","maxReplicas":10,"replicas":1}` {
			t.Errorf("stored spec %s, want defaults filled and spec.unknown pruned", got)
		}
		// Server-side apply tracks field managers on custom resources: a
		// second manager setting the first's field conflicts until it
		// forces.
		s.kubectlIn("apiVersion: ml.example.com/v2\nkind: Model\nmetadata: {name: ssa}\nspec: {image: x, replicas: 1}\n",
			"apply", "--server-side", "--field-manager", "deployer", "-f", "-")
		tuned := "apiVersion: ml.example.com/v2\nkind: Model\nmetadata: {name: ssa}\nspec: {replicas: 2}\n"
		r = s.kubectl(tuned, nil, "apply", "--server-side", "--field-manager", "tuner", "-f", "-")
		if r.Code != 1 || !strings.Contains(r.Stderr, `conflict with "deployer"`) || !strings.Contains(r.Stderr, ".spec.replicas") {
			t.Errorf("server-side apply over another manager's field: exit %d, stderr %q", r.Code, r.Stderr)
		}
		s.kubectlIn(tuned, "apply", "--server-side", "--force-conflicts", "--field-manager", "tuner", "-f", "-")
		if got := s.ok("get", "model", "ssa", "-o", "jsonpath={.spec.image}/{.spec.replicas}"); got != "x/2" {
			t.Errorf("after a forced server-side apply of replicas 2: %s", got)
		}
		// Served at v1 too.
		if got := s.ok("get", "models.v1.ml.example.com", "llama", "-o", "jsonpath={.apiVersion}"); got != "ml.example.com/v1" {
			t.Errorf("v1 read gives apiVersion %q", got)
		}
	})

	t.Run("get shows the columns; short name and category", func(t *testing.T) {
		for _, name := range []string{"models", "mdl", "ml"} {
			out := s.ok("get", name)
			if !strings.Contains(out, "IMAGE") || !strings.Contains(out, "REPLICAS") || !strings.Contains(out, "llama:3") {
				t.Errorf("kubectl get %s:\n%s", name, out)
			}
		}
	})

	t.Run("scale", func(t *testing.T) {
		if out := s.ok("scale", "model/llama", "--replicas", "3"); !strings.Contains(out, "model.ml.example.com/llama scaled") {
			t.Errorf("scale: %q", out)
		}
		if got := s.ok("get", "mdl", "llama", "-o", "jsonpath={.spec.replicas}"); got != "3" {
			t.Errorf("spec.replicas %s after scaling to 3", got)
		}
	})

	t.Run("explain", func(t *testing.T) {
		eventually(t, 20*time.Second, "kubectl explain model.spec", func() bool {
			r := s.kubectl("", nil, "explain", "model.spec")
			return r.Code == 0 && strings.Contains(r.Stdout, "How many servers run the model.") && strings.Contains(r.Stdout, "-required-")
		})
	})

	t.Run("an operator reconciles it and its ConfigMap is garbage collected", func(t *testing.T) {
		operatorCtx, stopOperator := context.WithCancel(ctx)
		defer stopOperator() // before the operator's cleanup waits for it
		startModelOperator(operatorCtx, t, s)
		eventually(t, 30*time.Second, "the operator's status", func() bool {
			return s.ok("get", "model", "llama", "-o", "jsonpath={.status.phase}/{.status.replicas}") == "Serving/3"
		})
		if out := s.ok("get", "model", "llama"); !strings.Contains(out, "Serving") {
			t.Errorf("kubectl get model does not show the phase column:\n%s", out)
		}
		cms := s.client().CoreV1().ConfigMaps("default")
		eventually(t, 20*time.Second, "the owned ConfigMap", func() bool {
			_, err := cms.Get(ctx, "llama-model", metav1.GetOptions{})
			return err == nil
		})
		s.ok("delete", "model", "llama")
		eventually(t, 60*time.Second, "garbage collection of the owned ConfigMap", func() bool {
			_, err := cms.Get(ctx, "llama-model", metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	})

	t.Run("namespace deletion deletes custom resources", func(t *testing.T) {
		s.ok("create", "namespace", "crd-ns")
		s.kubectlIn("apiVersion: ml.example.com/v1\nkind: Model\nmetadata: {name: m, namespace: crd-ns}\nspec: {image: x}\n", "apply", "-f", "-")
		s.ok("delete", "namespace", "crd-ns", "--timeout", "30s")
		// The namespace is gone only once its contents are: a namespace of
		// that name again holds no Model.
		s.ok("create", "namespace", "crd-ns")
		if r := s.kubectl("", nil, "get", "models", "-n", "crd-ns"); r.Code != 0 || !strings.Contains(r.Stderr, "No resources found") {
			t.Errorf("models left in the recreated namespace: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
	})

	t.Run("deleting the CRD deletes its resources", func(t *testing.T) {
		s.kubectlIn("apiVersion: ml.example.com/v2\nkind: Model\nmetadata: {name: left}\nspec: {image: x}\n", "apply", "-f", "-")
		s.ok("delete", "crd", "models.ml.example.com", "--timeout", "30s")
		if r := s.kubectl("", nil, "get", "models"); r.Code == 0 {
			t.Errorf("kubectl get models after the CRD is deleted: %q", r.Stdout)
		}
		s.kubectlIn(modelCRD, "apply", "-f", "-")
		s.ok("wait", "--for", "condition=Established", "--timeout", "30s", "crd/models.ml.example.com")
		eventually(t, 10*time.Second, "an empty list of models", func() bool {
			r := s.kubectl("", nil, "get", "models", "-A")
			return r.Code == 0 && strings.Contains(r.Stderr, "No resources found")
		})
	})
}

// kubectlIn runs kubectl with stdin and fails the test unless it exits 0
// with nothing on stderr.
func (s *server) kubectlIn(stdin string, args ...string) string {
	s.t.Helper()
	r := s.kubectl(stdin, nil, args...)
	if r.Code != 0 || strings.TrimSpace(r.Stderr) != "" {
		s.t.Fatalf("kubectl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// startModelOperator runs, until ctx ends, an operator written with
// controller-runtime: for each Model it keeps a ConfigMap it owns and
// writes the status (phase Serving, replicas as asked).
func startModelOperator(ctx context.Context, t *testing.T, s *server) {
	t.Helper()
	mgr, err := ctrl.NewManager(s.restConfig(), ctrl.Options{
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	watched := &unstructured.Unstructured{}
	watched.SetGroupVersionKind(modelGVK)
	c := mgr.GetClient()
	err = ctrl.NewControllerManagedBy(mgr).For(watched).Owns(&corev1.ConfigMap{}).
		Complete(reconcile.Func(func(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
			m := &unstructured.Unstructured{}
			m.SetGroupVersionKind(modelGVK)
			if err := c.Get(ctx, req.NamespacedName, m); err != nil {
				return ctrl.Result{}, client.IgnoreNotFound(err)
			}
			image, _, _ := unstructured.NestedString(m.Object, "spec", "image")
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: m.GetNamespace(), Name: m.GetName() + "-model"}}
			if _, err := controllerutil.CreateOrUpdate(ctx, c, cm, func() error {
				cm.Data = map[string]string{"image": image}
				return controllerutil.SetControllerReference(m, cm, mgr.GetScheme())
			}); err != nil {
				return ctrl.Result{}, err
			}
			replicas, _, _ := unstructured.NestedInt64(m.Object, "spec", "replicas")
			if err := unstructured.SetNestedField(m.Object, map[string]any{"phase": "Serving", "replicas": replicas}, "status"); err != nil {
				return ctrl.Result{}, err
			}
			return ctrl.Result{}, c.Status().Update(ctx, m)
		}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("operator: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("operator did not stop")
		}
	})
}
