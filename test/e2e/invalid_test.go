package e2e

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const badSelectorDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad-selector
  namespace: production
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ml-model
  template:
    metadata:
      labels:
        app: something-else
    spec:
      containers:
      - name: c
        image: model:v1
`

// TestBadInputIsRefused checks that bad input gets Kubernetes' Status
// errors and leaves what is stored untouched.
func TestBadInputIsRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok("create", "namespace", "production")
	s.ok("create", "configmap", "keep", "-n", "production", "--from-literal=k=v")

	t.Run("selector does not match template labels", func(t *testing.T) {
		r := s.kubectl(badSelectorDeployment, nil, "apply", "-f", "-")
		if r.Code == 0 {
			t.Fatal("apply of a deployment whose selector misses its template succeeded")
		}
		want := `The Deployment "bad-selector" is invalid: spec.template.metadata.labels: Invalid value: {"app":"something-else"}: ` + "`selector` does not match template `labels`"
		if !strings.Contains(r.Stderr, "spec.template.metadata.labels: Invalid value") || !strings.Contains(r.Stderr, "`selector` does not match template `labels`") {
			t.Errorf("stderr %q, want something like %q", r.Stderr, want)
		}
		_, err := s.client().AppsV1().Deployments("production").Get(context.Background(), "bad-selector", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("the invalid deployment was stored: %v", err)
		}
		// The API answers 422 with the field as a cause.
		_, err = s.client().CoreV1().ConfigMaps("production").Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "Bad_Name"}}, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) {
			t.Fatalf("create of an invalid name: %v, want 422 Invalid", err)
		}
		status := err.(apierrors.APIStatus).Status()
		if status.Code != 422 || status.Details == nil || len(status.Details.Causes) == 0 || status.Details.Causes[0].Field != "metadata.name" {
			t.Errorf("status %+v, want 422 with a metadata.name cause", status)
		}
	})

	t.Run("invalid name", func(t *testing.T) {
		stderr := s.fails("create", "configmap", "Bad_Name", "-n", "production")
		if !strings.Contains(stderr, `ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of`) {
			t.Errorf("stderr: %s", stderr)
		}
	})

	t.Run("unknown field under strict validation", func(t *testing.T) {
		cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\n  namespace: production\ndata:\n  a: b\nbogus: 1\n"
		r := s.kubectl(cm, nil, "apply", "--validate=strict", "-f", "-")
		if r.Code == 0 || !strings.Contains(r.Stderr, `unknown field "bogus"`) {
			t.Errorf("strict apply with an unknown field: exit %d, stderr %q", r.Code, r.Stderr)
		}
		// The server itself enforces fieldValidation=Strict (no client-side schema).
		r = s.kubectl(cm, nil, "create", "--validate=strict", "-f", "-")
		if r.Code == 0 || !strings.Contains(r.Stderr, `unknown field "bogus"`) {
			t.Errorf("strict create with an unknown field: exit %d, stderr %q", r.Code, r.Stderr)
		}
		if r := s.kubectl("", nil, "get", "configmap", "strict", "-n", "production"); r.Code == 0 {
			t.Errorf("the strict-invalid configmap was stored")
		}
	})

	t.Run("stale resourceVersion", func(t *testing.T) {
		c := s.client().CoreV1().ConfigMaps("production")
		cm, err := c.Get(context.Background(), "keep", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fresh := cm.DeepCopy()
		fresh.Data["k"] = "v2"
		if _, err := c.Update(context.Background(), fresh, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		cm.Data["k"] = "stale"
		_, err = c.Update(context.Background(), cm, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "the object has been modified; please apply your changes to the latest version and try again") {
			t.Errorf("stale update: %v, want 409 Conflict", err)
		}
		got, err := c.Get(context.Background(), "keep", metav1.GetOptions{})
		if err != nil || got.Data["k"] != "v2" {
			t.Errorf("after the refused update the configmap holds %v (%v), want v2", got.Data, err)
		}
	})

	t.Run("missing namespace", func(t *testing.T) {
		stderr := s.fails("create", "configmap", "x", "-n", "nowhere", "--from-literal=a=b")
		if !strings.Contains(stderr, `namespaces "nowhere" not found`) {
			t.Errorf("stderr: %s", stderr)
		}
		_, err := s.client().CoreV1().ConfigMaps("nowhere").Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("create in a missing namespace: %v, want 404", err)
		}
	})
}
