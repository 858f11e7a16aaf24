//go:build integration

package webhooks_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/testserver"
)

// hook answers AdmissionReviews: /deny refuses with "no, thanks", /label
// adds the label hooked=yes; every request is counted by path.
type hook struct {
	calls chan string
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var rev admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&rev); err != nil || rev.Request == nil {
		http.Error(w, "bad review", http.StatusBadRequest)
		return
	}
	select {
	case h.calls <- r.URL.Path:
	default:
	}
	resp := &admissionv1.AdmissionResponse{UID: rev.Request.UID, Allowed: true}
	switch r.URL.Path {
	case "/deny":
		resp.Allowed = false
		resp.Result = &metav1.Status{Message: "no, thanks", Code: http.StatusForbidden}
	case "/label":
		pt := admissionv1.PatchTypeJSONPatch
		resp.PatchType = &pt
		resp.Patch = []byte(`[{"op":"add","path":"/metadata/labels","value":{"hooked":"yes"}}]`)
	}
	_ = json.NewEncoder(w).Encode(admissionv1.AdmissionReview{TypeMeta: rev.TypeMeta, Response: resp})
}

func rules(resource string, ops ...admissionregistrationv1.OperationType) []admissionregistrationv1.RuleWithOperations {
	return []admissionregistrationv1.RuleWithOperations{{
		Operations: ops,
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{"", "apps"}, APIVersions: []string{"v1"}, Resources: []string{resource}},
	}}
}

func validating(name string, cc admissionregistrationv1.WebhookClientConfig, mutate func(*admissionregistrationv1.ValidatingWebhook)) *admissionregistrationv1.ValidatingWebhookConfiguration {
	w := admissionregistrationv1.ValidatingWebhook{
		Name: name + ".skiff.test", ClientConfig: cc, Rules: rules("configmaps", admissionregistrationv1.Create),
		SideEffects: ptr.To(admissionregistrationv1.SideEffectClassNone), AdmissionReviewVersions: []string{"v1"},
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"hooks": name}},
		TimeoutSeconds:    ptr.To[int32](2),
	}
	if mutate != nil {
		mutate(&w)
	}
	return &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{w}}
}

// createNamespace makes a namespace labelled hooks=name, the label the
// test's webhooks select.
func createNamespace(t *testing.T, s *testserver.Server, name string) {
	t.Helper()
	_, err := s.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"hooks": name}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func configMap(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// TestWebhooks: validating and mutating webhooks reached by URL and through
// a Service's EndpointSlice, with failurePolicy, selectors and
// matchConditions as Kubernetes applies them.
func TestWebhooks(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	h := &hook{calls: make(chan string, 100)}
	byURL := httptest.NewTLSServer(h)
	t.Cleanup(byURL.Close)
	urlCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: byURL.Certificate().Raw})
	vwcs := s.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations()

	t.Run("denied by URL webhook", func(t *testing.T) {
		createNamespace(t, s, "deny")
		_, err := vwcs.Create(ctx, validating("deny", admissionregistrationv1.WebhookClientConfig{
			URL: ptr.To(byURL.URL + "/deny"), CABundle: urlCA}, nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := `admission webhook "deny.skiff.test" denied the request: no, thanks`
		testserver.Poll(t, 10*time.Second, "the webhook refuses", func() error {
			_, err := s.Client.CoreV1().ConfigMaps("deny").Create(ctx, configMap("refused"), metav1.CreateOptions{})
			if err == nil || err.Error() != want {
				_ = s.Client.CoreV1().ConfigMaps("deny").Delete(ctx, "refused", metav1.DeleteOptions{})
				return fmt.Errorf("create: %v, want %q", err, want)
			}
			return nil
		})
		// Namespaces the selector does not match are not sent.
		if _, err := s.Client.CoreV1().ConfigMaps("default").Create(ctx, configMap("elsewhere"), metav1.CreateOptions{}); err != nil {
			t.Errorf("create outside the selected namespaces: %v", err)
		}
		// A dry run reaches a webhook without side effects.
		_, err = s.Client.CoreV1().ConfigMaps("deny").Create(ctx, configMap("dry"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil || err.Error() != want {
			t.Errorf("dry run: %v, want %q", err, want)
		}
	})

	t.Run("matchConditions", func(t *testing.T) {
		createNamespace(t, s, "cond")
		_, err := vwcs.Create(ctx, validating("cond", admissionregistrationv1.WebhookClientConfig{
			URL: ptr.To(byURL.URL + "/deny"), CABundle: urlCA}, func(w *admissionregistrationv1.ValidatingWebhook) {
			w.MatchConditions = []admissionregistrationv1.MatchCondition{{Name: "only-big", Expression: `object.metadata.name.startsWith("big")`}}
		}), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		testserver.Poll(t, 10*time.Second, "the webhook refuses big-*", func() error {
			_, err := s.Client.CoreV1().ConfigMaps("cond").Create(ctx, configMap("big-one"), metav1.CreateOptions{})
			if err == nil {
				_ = s.Client.CoreV1().ConfigMaps("cond").Delete(ctx, "big-one", metav1.DeleteOptions{})
				return fmt.Errorf("big-one was created")
			}
			return nil
		})
		if _, err := s.Client.CoreV1().ConfigMaps("cond").Create(ctx, configMap("small"), metav1.CreateOptions{}); err != nil {
			t.Errorf("create not matching the condition: %v", err)
		}
	})

	t.Run("failurePolicy", func(t *testing.T) {
		createNamespace(t, s, "down")
		gone := httptest.NewTLSServer(h)
		goneURL, goneCA := gone.URL, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gone.Certificate().Raw})
		gone.Close()
		_, err := vwcs.Create(ctx, validating("down", admissionregistrationv1.WebhookClientConfig{
			URL: ptr.To(goneURL + "/deny"), CABundle: goneCA}, nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		testserver.Poll(t, 10*time.Second, "failurePolicy Fail refuses", func() error {
			_, err := s.Client.CoreV1().ConfigMaps("down").Create(ctx, configMap("fail"), metav1.CreateOptions{})
			if err == nil || !strings.Contains(err.Error(), `failed calling webhook "down.skiff.test"`) {
				_ = s.Client.CoreV1().ConfigMaps("down").Delete(ctx, "fail", metav1.DeleteOptions{})
				return fmt.Errorf("create: %v, want failed calling webhook", err)
			}
			return nil
		})
		cfg, err := vwcs.Get(ctx, "down", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Webhooks[0].FailurePolicy = ptr.To(admissionregistrationv1.Ignore)
		if _, err := vwcs.Update(ctx, cfg, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		testserver.Poll(t, 10*time.Second, "failurePolicy Ignore lets creates pass", func() error {
			_, err := s.Client.CoreV1().ConfigMaps("down").Create(ctx, configMap("ignored"), metav1.CreateOptions{})
			return err
		})
	})

	t.Run("caBundle is verified", func(t *testing.T) {
		createNamespace(t, s, "badca")
		otherCA, _, err := certutil.GenerateSelfSignedCertKey("127.0.0.1", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = vwcs.Create(ctx, validating("badca", admissionregistrationv1.WebhookClientConfig{
			URL: ptr.To(byURL.URL + "/allow"), CABundle: otherCA}, nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		testserver.Poll(t, 10*time.Second, "an untrusted certificate fails the call", func() error {
			_, err := s.Client.CoreV1().ConfigMaps("badca").Create(ctx, configMap("x"), metav1.CreateOptions{})
			if err == nil || !strings.Contains(err.Error(), "x509") {
				_ = s.Client.CoreV1().ConfigMaps("badca").Delete(ctx, "x", metav1.DeleteOptions{})
				return fmt.Errorf("create: %v, want a certificate error", err)
			}
			return nil
		})
	})

	t.Run("mutating webhook behind a Service", func(t *testing.T) {
		createNamespace(t, s, "svc")
		_, port, certPEM := s.ServeTLSAtEndpoint(t, h, "labeller.svc.svc", tls.NoClientCert)
		_, err := s.Client.CoreV1().Services("svc").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "labeller"},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(port)}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Client.DiscoveryV1().EndpointSlices("svc").Create(ctx, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "labeller-1", Labels: map[string]string{discoveryv1.LabelServiceName: "labeller"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{s.EndpointAddress.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port)}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "labeller"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name: "labeller.skiff.test",
				ClientConfig: admissionregistrationv1.WebhookClientConfig{
					Service:  &admissionregistrationv1.ServiceReference{Namespace: "svc", Name: "labeller", Path: ptr.To("/label")},
					CABundle: certPEM,
				},
				Rules:       rules("configmaps", admissionregistrationv1.Create),
				SideEffects: ptr.To(admissionregistrationv1.SideEffectClassNone), AdmissionReviewVersions: []string{"v1"},
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"hooks": "svc"}},
				ObjectSelector:    &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "skip", Operator: metav1.LabelSelectorOpDoesNotExist}}},
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		testserver.Poll(t, 10*time.Second, "the webhook labels new ConfigMaps", func() error {
			cm, err := s.Client.CoreV1().ConfigMaps("svc").Create(ctx, configMap("labelled"), metav1.CreateOptions{})
			if err != nil {
				return err
			}
			_ = s.Client.CoreV1().ConfigMaps("svc").Delete(ctx, "labelled", metav1.DeleteOptions{})
			if cm.Labels["hooked"] != "yes" {
				return fmt.Errorf("labels %v, want hooked=yes", cm.Labels)
			}
			return nil
		})
		// objectSelector: objects labelled skip are not sent.
		skipped := configMap("skipped")
		skipped.Labels = map[string]string{"skip": "true"}
		cm, err := s.Client.CoreV1().ConfigMaps("svc").Create(ctx, skipped, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Labels["hooked"] != "" {
			t.Errorf("an object the objectSelector excludes was mutated: %v", cm.Labels)
		}
	})
}

// TestValidatingAdmissionPolicy: a CEL policy bound to namespaces by label
// refuses Deployments over 5 replicas with Kubernetes' message.
func TestValidatingAdmissionPolicy(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	createNamespace(t, s, "capped")
	_, err := s.Client.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "max-replicas"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: rules("deployments", admissionregistrationv1.Create, admissionregistrationv1.Update)[0],
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "object.spec.replicas <= 5", Message: "replicas must be no more than 5"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Client.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "max-replicas"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        "max-replicas",
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"hooks": "capped"}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deployment := func(name string, replicas int32) *appsv1.Deployment {
		labels := map[string]string{"app": name}
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "model:v1"}}}}},
		}
	}
	want := `deployments.apps "big" is forbidden: ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas' denied request: replicas must be no more than 5`
	testserver.Poll(t, 10*time.Second, "the policy refuses 6 replicas", func() error {
		_, err := s.Client.AppsV1().Deployments("capped").Create(ctx, deployment("big", 6), metav1.CreateOptions{})
		if err == nil || err.Error() != want {
			_ = s.Client.AppsV1().Deployments("capped").Delete(ctx, "big", metav1.DeleteOptions{})
			return fmt.Errorf("create: %v, want %q", err, want)
		}
		return nil
	})
	if _, err := s.Client.AppsV1().Deployments("capped").Create(ctx, deployment("small", 5), metav1.CreateOptions{}); err != nil {
		t.Errorf("5 replicas: %v", err)
	}
	if _, err := s.Client.AppsV1().Deployments("default").Create(ctx, deployment("big", 6), metav1.CreateOptions{}); err != nil {
		t.Errorf("6 replicas outside the bound namespaces: %v", err)
	}
}
