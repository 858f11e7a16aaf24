package admissionregistration

import (
	"context"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func defaulted(t *testing.T, obj runtime.Object) runtime.Object {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := admissionregistrationv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	RegisterDefaults(scheme)
	scheme.Default(obj)
	return obj
}

func webhookConfig(mutate func(*admissionregistrationv1.ValidatingWebhook)) *admissionregistrationv1.ValidatingWebhookConfiguration {
	w := admissionregistrationv1.ValidatingWebhook{
		Name: "deny.example.com",
		ClientConfig: admissionregistrationv1.WebhookClientConfig{
			Service: &admissionregistrationv1.ServiceReference{Namespace: "hooks", Name: "deny", Path: ptr.To("/validate")},
		},
		Rules: []admissionregistrationv1.RuleWithOperations{{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
		}},
		SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
		AdmissionReviewVersions: []string{"v1"},
	}
	mutate(&w)
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "deny"},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{w},
	}
}

func TestValidatingWebhookConfiguration(t *testing.T) {
	kind := validatingWebhookConfigurationKind()
	tests := []struct {
		name   string
		mutate func(*admissionregistrationv1.ValidatingWebhook)
		config func(*admissionregistrationv1.ValidatingWebhookConfiguration)
		want   []string
	}{
		{name: "valid", mutate: func(*admissionregistrationv1.ValidatingWebhook) {}},
		{
			name:   "no sideEffects",
			mutate: func(w *admissionregistrationv1.ValidatingWebhook) { w.SideEffects = nil },
			want:   []string{`webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun`},
		},
		{
			name:   "name not fully qualified",
			mutate: func(w *admissionregistrationv1.ValidatingWebhook) { w.Name = "deny" },
			want:   []string{`webhooks[0].name: Invalid value: "deny": should be a domain with at least three segments separated by dots`},
		},
		{
			name:   "reserved name",
			mutate: func(w *admissionregistrationv1.ValidatingWebhook) {},
			config: func(c *admissionregistrationv1.ValidatingWebhookConfiguration) { c.Name = "deny.static.k8s.io" },
			want:   []string{`metadata.name: Invalid value: "deny.static.k8s.io": names ending with ".static.k8s.io" are reserved`},
		},
		{
			name:   "timeout too long",
			mutate: func(w *admissionregistrationv1.ValidatingWebhook) { w.TimeoutSeconds = ptr.To[int32](31) },
			want:   []string{`webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds`},
		},
		{
			name: "url and service",
			mutate: func(w *admissionregistrationv1.ValidatingWebhook) {
				w.ClientConfig.URL = ptr.To("https://example.com/validate")
			},
			want: []string{`webhooks[0].clientConfig: Required value: exactly one of url or service is required`},
		},
		{
			name: "bad matchCondition",
			mutate: func(w *admissionregistrationv1.ValidatingWebhook) {
				w.MatchConditions = []admissionregistrationv1.MatchCondition{{Name: "c", Expression: "object.spec.replicas >"}}
			},
			want: []string{`webhooks[0].matchConditions[0].expression: Invalid value: "object.spec.replicas >": compilation failed`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := webhookConfig(tt.mutate)
			if tt.config != nil {
				tt.config(c)
			}
			obj := defaulted(t, c)
			errs := kind.Validate(context.Background(), obj)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors = %v, want %v", errs, tt.want)
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), want) {
					t.Errorf("error %d = %q, want prefix %q", i, errs[i].Error(), want)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := defaulted(t, webhookConfig(func(*admissionregistrationv1.ValidatingWebhook) {})).(*admissionregistrationv1.ValidatingWebhookConfiguration)
	w := c.Webhooks[0]
	if *w.FailurePolicy != admissionregistrationv1.Fail || *w.MatchPolicy != admissionregistrationv1.Equivalent ||
		*w.TimeoutSeconds != 10 || *w.ClientConfig.Service.Port != 443 || w.NamespaceSelector == nil || w.ObjectSelector == nil ||
		*w.Rules[0].Scope != admissionregistrationv1.AllScopes {
		t.Errorf("defaults not applied: %+v", w)
	}
}

func TestValidatingAdmissionPolicy(t *testing.T) {
	kind := validatingAdmissionPolicyKind()
	policy := func(expr string) runtime.Object {
		return defaulted(t, &admissionregistrationv1.ValidatingAdmissionPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "max-replicas"},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
				MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
						Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
					},
				}}},
				Validations: []admissionregistrationv1.Validation{{Expression: expr}},
			},
		})
	}
	if errs := kind.Validate(context.Background(), policy("object.spec.replicas <= 5")); len(errs) != 0 {
		t.Errorf("valid policy refused: %v", errs)
	}
	errs := kind.Validate(context.Background(), policy("object.spec.replicas <="))
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "spec.validations[0].expression: Invalid value") {
		t.Errorf("errors = %v, want one on spec.validations[0].expression", errs)
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "max-replicas"}}
	errs = validatingAdmissionPolicyBindingKind().Validate(context.Background(), defaulted(t, binding))
	if len(errs) == 0 || !strings.HasPrefix(errs[0].Error(), "spec.policyName: Required value") {
		t.Errorf("errors = %v, want spec.policyName required", errs)
	}
}

func TestColumns(t *testing.T) {
	tests := []struct {
		ref  *admissionregistrationv1.ParamRef
		want string
	}{
		{nil, "<unset>"},
		{&admissionregistrationv1.ParamRef{Name: "limits", Namespace: "ml"}, "ml/limits"},
		{&admissionregistrationv1.ParamRef{Name: "limits"}, "*/limits"},
	}
	for _, tt := range tests {
		if got := paramRef(tt.ref); got != tt.want {
			t.Errorf("paramRef(%+v) = %q, want %q", tt.ref, got, tt.want)
		}
	}
	if got := paramKind(&admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}); got != "v1/ConfigMap" {
		t.Errorf("paramKind = %q", got)
	}
}

func TestWarnings(t *testing.T) {
	c := defaulted(t, webhookConfig(func(w *admissionregistrationv1.ValidatingWebhook) {
		w.Rules[0].Rule = admissionregistrationv1.Rule{APIGroups: []string{"authorization.k8s.io"}, APIVersions: []string{"v1"}, Resources: []string{"subjectaccessreviews"}}
	}))
	if w := validatingWebhookConfigurationKind().Warnings(context.Background(), c); len(w) != 1 || !strings.Contains(w[0], "subjectaccessreviews") {
		t.Errorf("warnings = %q, want one on subjectaccessreviews", w)
	}
	if w := validatingWebhookConfigurationKind().Warnings(context.Background(), defaulted(t, webhookConfig(func(*admissionregistrationv1.ValidatingWebhook) {}))); len(w) != 0 {
		t.Errorf("warnings on a rule for deployments: %q", w)
	}
}
