package join

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCheckBootstrapToken(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	valid := func() *corev1.Secret {
		return bootstrapTokenSecret("abcdef", "0123456789abcdef", TokenRequest{TTL: time.Hour, Groups: []string{"system:bootstrappers:skiff"}}, now)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Secret)
		secret string
		at     time.Time
		want   string // the refusal; "" authenticates
	}{
		{name: "valid", secret: "0123456789abcdef", at: now},
		{name: "wrong secret", secret: "0123456789abcdeX", at: now, want: "wrong secret"},
		{name: "expired", secret: "0123456789abcdef", at: now.Add(2 * time.Hour), want: "expired"},
		{name: "other type", mutate: func(s *corev1.Secret) { s.Type = corev1.SecretTypeOpaque }, secret: "0123456789abcdef", at: now, want: "not of type bootstrap.kubernetes.io/token"},
		{name: "no authentication usage", mutate: func(s *corev1.Secret) { delete(s.Data, "usage-bootstrap-authentication") }, secret: "0123456789abcdef", at: now, want: "not for authentication"},
		{name: "being deleted", mutate: func(s *corev1.Secret) { s.DeletionTimestamp = &metav1.Time{Time: now} }, secret: "0123456789abcdef", at: now, want: "being deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := valid()
			if tc.mutate != nil {
				tc.mutate(s)
			}
			u, why := checkBootstrapToken(s, "abcdef", tc.secret, tc.at)
			if why != tc.want {
				t.Fatalf("refusal %q, want %q", why, tc.want)
			}
			if tc.want != "" {
				return
			}
			if u.GetName() != "system:bootstrap:abcdef" {
				t.Errorf("user %q", u.GetName())
			}
			groups := map[string]bool{}
			for _, g := range u.GetGroups() {
				groups[g] = true
			}
			if !groups[BootstrapGroup] || !groups["system:bootstrappers:skiff"] || !groups["system:authenticated"] {
				t.Errorf("groups %v", u.GetGroups())
			}
		})
	}
}

func TestParseBootstrapToken(t *testing.T) {
	for value, wantOK := range map[string]bool{
		"abcdef.0123456789abcdef":          true,
		"0123456789abcdef0123456789abcdef": false, // the server's own token's secret
		"ABCDEF.0123456789abcdef":          false,
		"abcdef.0123":                      false,
	} {
		if _, _, ok := parseBootstrapToken(value); ok != wantOK {
			t.Errorf("%q: ok %v, want %v", value, ok, wantOK)
		}
	}
}
