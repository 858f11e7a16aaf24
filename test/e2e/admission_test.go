package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certutil "k8s.io/client-go/util/cert"
)

// Issue 13's admission webhooks and policies, with the upstream kubectl:
// a validating webhook served by a pod behind a Service refuses
// Deployments with Kubernetes' message; with the pod gone, failurePolicy
// Fail refuses and Ignore lets creates pass; a ValidatingAdmissionPolicy
// refuses more than 5 replicas in the namespaces its binding selects.

// webhookManifests are the webhook's Deployment and Service in namespace
// hooks (its certificate in Secret webhook-tls) and the configuration that
// sends it Deployments created in namespaces labelled webhooks=on.
func webhookManifests(bin string, caBundle []byte) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: deny-webhook
  namespace: hooks
spec:
  replicas: 1
  selector:
    matchLabels: {app: deny-webhook}
  template:
    metadata:
      labels: {app: deny-webhook}
    spec:
      containers:
      - name: webhook
        image: localhost/skiff/admission-webhook:latest
        command: [%q, "-cert-file", "/tls/tls.crt", "-key-file", "/tls/tls.key", "-message", "every Deployment needs an owner label"]
        ports:
        - containerPort: 8443
        readinessProbe:
          httpGet: {path: /healthz, port: 8443, scheme: HTTPS}
          periodSeconds: 1
        volumeMounts:
        - {name: tls, mountPath: /tls, readOnly: true}
      volumes:
      - name: tls
        secret: {secretName: webhook-tls}
---
apiVersion: v1
kind: Service
metadata:
  name: deny-webhook
  namespace: hooks
spec:
  selector: {app: deny-webhook}
  ports:
  - {name: https, port: 443, targetPort: 8443}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: deny-deployments
webhooks:
- name: deny.skiff.dev
  clientConfig:
    service: {namespace: hooks, name: deny-webhook, path: /validate}
    caBundle: %s
  rules:
  - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  namespaceSelector:
    matchLabels: {webhooks: "on"}
  sideEffects: None
  admissionReviewVersions: [v1]
  failurePolicy: Fail
  timeoutSeconds: 5
`, bin, base64.StdEncoding.EncodeToString(caBundle))
}

const replicaPolicy = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: max-replicas
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  validations:
  - expression: object.spec.replicas <= 5
    message: at most 5 replicas here
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: max-replicas
spec:
  policyName: max-replicas
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {replicas: capped}
`

func deploymentManifest(name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
spec:
  replicas: %d
  selector:
    matchLabels: {app: %s}
  template:
    metadata:
      labels: {app: %s}
    spec:
      containers:
      - {name: c, image: localhost/skiff/model-server:v2}
`, name, replicas, name, name)
}

func TestAdmissionWebhooks(t *testing.T) {
	n := startNodeSuite(t, "process", "--cluster-cidr", "10.182.0.0/16", "--service-cidr", "10.183.0.0/16")
	s := n.s
	bin := staticBin(t, "ADMISSION_WEBHOOK_BIN", "./cmd/admission-webhook")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pods:\n%s", s.kubectl("", nil, "get", "pods", "-A", "-o", "wide").Stdout)
		}
	})

	// The webhook's certificate, for the name the API server checks:
	// <service>.<namespace>.svc.
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("deny-webhook.hooks.svc", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.ok("create", "namespace", "hooks")
	s.ok("create", "secret", "tls", "webhook-tls", "-n", "hooks",
		"--cert", filepath.Join(dir, "tls.crt"), "--key", filepath.Join(dir, "tls.key"))
	if r := s.kubectl(webhookManifests(bin, certPEM), nil, "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("kubectl apply of the webhook: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	s.ok("wait", "-n", "hooks", "--for=condition=Available", "deployment/deny-webhook", "--timeout=60s")
	s.ok("create", "namespace", "guarded")
	s.ok("label", "namespace", "guarded", "webhooks=on")

	const denied = `admission webhook "deny.skiff.dev" denied the request: every Deployment needs an owner label`
	t.Run("a webhook served by a pod refuses", func(t *testing.T) {
		// The configuration reaches the plugin through its informer.
		eventually(t, 15*time.Second, "the webhook refuses a server-side dry run", func() bool {
			r := s.kubectl(deploymentManifest("web", 1), nil, "apply", "-n", "guarded", "--dry-run=server", "-f", "-")
			return r.Code != 0 && strings.Contains(r.Stderr, denied)
		})
		r := s.kubectl(deploymentManifest("web", 1), nil, "apply", "-n", "guarded", "-f", "-")
		want := `Error from server (Forbidden): error when creating "STDIN": ` + denied
		if r.Code == 0 || strings.TrimSpace(r.Stderr) != want {
			t.Errorf("kubectl apply: exit %d, stderr:\n%s\nwant:\n%s", r.Code, r.Stderr, want)
		}
		// Namespaces the selector does not match are not sent.
		s.ok("create", "deployment", "web", "-n", "hooks", "--image=localhost/skiff/model-server:v2", "--replicas=0")
	})

	t.Run("failurePolicy with the webhook pod gone", func(t *testing.T) {
		s.ok("delete", "deployment", "deny-webhook", "-n", "hooks", "--wait")
		eventually(t, 30*time.Second, "Fail refuses while no endpoint serves the webhook", func() bool {
			r := s.kubectl("", nil, "create", "deployment", "web", "-n", "guarded", "--image=localhost/skiff/model-server:v2", "--replicas=0", "--dry-run=server")
			return r.Code != 0 && strings.Contains(r.Stderr, `failed calling webhook "deny.skiff.dev"`)
		})
		s.ok("patch", "validatingwebhookconfiguration", "deny-deployments", "--type=json",
			"-p", `[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]`)
		eventually(t, 15*time.Second, "Ignore lets the create pass", func() bool {
			r := s.kubectl("", nil, "create", "deployment", "web", "-n", "guarded", "--image=localhost/skiff/model-server:v2", "--replicas=0")
			return r.Code == 0
		})
		if out := s.ok("get", "deployment", "web", "-n", "guarded", "-o", "name"); strings.TrimSpace(out) != "deployment.apps/web" {
			t.Errorf("kubectl get: %q", out)
		}
	})

	t.Run("a ValidatingAdmissionPolicy caps replicas", func(t *testing.T) {
		if r := s.kubectl(replicaPolicy, nil, "apply", "-f", "-"); r.Code != 0 {
			t.Fatalf("kubectl apply of the policy: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		s.ok("create", "namespace", "capped")
		s.ok("label", "namespace", "capped", "replicas=capped")
		// A validation without a reason refuses with 422 Invalid, which
		// kubectl prints from the status details, as against Kubernetes.
		const refused = `The deployments "big" is invalid: : ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas' denied request: at most 5 replicas here`
		var last result
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("last dry run: exit %d\n%s%s", last.Code, last.Stdout, last.Stderr)
			}
		})
		eventually(t, 15*time.Second, "the policy refuses 6 replicas", func() bool {
			last = s.kubectl(deploymentManifest("big", 6), nil, "apply", "-n", "capped", "--dry-run=server", "-f", "-")
			return last.Code != 0 && strings.Contains(last.Stderr, refused)
		})
		r := s.kubectl(deploymentManifest("big", 6), nil, "apply", "-n", "capped", "-f", "-")
		if r.Code == 0 || strings.TrimSpace(r.Stderr) != refused {
			t.Errorf("kubectl apply of 6 replicas: exit %d, stderr:\n%s\nwant:\n%s", r.Code, r.Stderr, refused)
		}
		s.ok("create", "deployment", "big", "-n", "capped", "--image=localhost/skiff/model-server:v2", "--replicas=5", "--dry-run=server")
		r = s.kubectl("", nil, "scale", "deployment", "web", "-n", "guarded", "--replicas=6", "--dry-run=server")
		if r.Code != 0 {
			t.Errorf("scaling outside the bound namespaces: exit %d\n%s", r.Code, r.Stderr)
		}
		if out := s.ok("get", "validatingadmissionpolicies"); !strings.Contains(out, "max-replicas") || !strings.HasPrefix(out, "NAME") {
			t.Errorf("kubectl get validatingadmissionpolicies:\n%s", out)
		}
	})
}
