//go:build integration

package tokenrequest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/server/api"
	"skiff.dev/skiff/internal/testserver"
)

func tokenRequest(seconds int64, ref *authenticationv1.BoundObjectReference) *authenticationv1.TokenRequest {
	return &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds, BoundObjectRef: ref}}
}

// bearer is a client of srv that presents token and no certificate.
func bearer(t *testing.T, srv *testserver.Server, token string) kubernetes.Interface {
	t.Helper()
	cfg := rest.AnonymousClientConfig(srv.Config)
	cfg.BearerToken = token
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func TestTokenRequest(t *testing.T) {
	srv := testserver.Start(t, func(c *api.Config) { c.ServiceAccounts.MaxTokenExpiration = 2 * time.Hour })
	ctx := context.Background()
	sas := srv.Client.CoreV1().ServiceAccounts("default")
	sa, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "runner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := srv.Client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.PodSpec{ServiceAccountName: "runner", AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	podRef := &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "web", UID: pod.UID}

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			sa     string
			req    *authenticationv1.TokenRequest
			reason metav1.StatusReason
			msg    string
		}{
			{"too short", "runner", tokenRequest(599, nil), metav1.StatusReasonInvalid, "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"},
			{"too long", "runner", tokenRequest(1<<33, nil), metav1.StatusReasonInvalid, "may not specify a duration larger than 2^32 seconds"},
			{"no such service account", "nobody", tokenRequest(600, nil), metav1.StatusReasonNotFound, `serviceaccounts "nobody" not found`},
			{"pod of another service account", "default-missing", tokenRequest(600, podRef), metav1.StatusReasonNotFound, ""},
			{"pod recreated", "runner", tokenRequest(600, &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "web", UID: types.UID("old")}),
				metav1.StatusReasonConflict, "the UID in the bound object reference (old) does not match the UID in record"},
			{"no such pod", "runner", tokenRequest(600, &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "gone"}), metav1.StatusReasonNotFound, `pods "gone" not found`},
			{"bound to a ConfigMap", "runner", tokenRequest(600, &authenticationv1.BoundObjectReference{Kind: "ConfigMap", APIVersion: "v1", Name: "x"}),
				metav1.StatusReasonBadRequest, "cannot bind token to object of type /v1, Kind=ConfigMap"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := sas.CreateToken(ctx, tc.sa, tc.req, metav1.CreateOptions{})
				if got := apierrors.ReasonForError(err); got != tc.reason || !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("CreateToken: %v (%s), want %s containing %q", err, got, tc.reason, tc.msg)
				}
			})
		}
	})

	t.Run("other service account's pod", func(t *testing.T) {
		if _, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := sas.CreateToken(ctx, "other", tokenRequest(600, podRef), metav1.CreateOptions{})
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `cannot bind token for serviceaccount "other" to pod running with different serviceaccount name.`) {
			t.Errorf("CreateToken: %v", err)
		}
	})

	t.Run("bound to the pod", func(t *testing.T) {
		before := time.Now()
		tr, err := sas.CreateToken(ctx, "runner", tokenRequest(3*3600, podRef), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := *tr.Spec.ExpirationSeconds; got != 7200 {
			t.Errorf("expirationSeconds %d, want the 2h cap", got)
		}
		if exp := tr.Status.ExpirationTimestamp.Time; exp.Before(before.Add(2*time.Hour-time.Second)) || exp.After(time.Now().Add(2*time.Hour+time.Second)) {
			t.Errorf("expires %v, want in 2h", exp)
		}
		if tr.Name != "runner" || tr.Namespace != "default" || tr.UID != sa.UID {
			t.Errorf("request metadata %s/%s %s, want the service account's", tr.Namespace, tr.Name, tr.UID)
		}
		if len(tr.Spec.Audiences) != 1 || tr.Spec.Audiences[0] != "https://kubernetes.default.svc.cluster.local" {
			t.Errorf("audiences %v, want the issuer", tr.Spec.Audiences)
		}
		claims := decodeClaims(t, tr.Status.Token)
		k := claims["kubernetes.io"].(map[string]any)
		if k["namespace"] != "default" || k["pod"].(map[string]any)["uid"] != string(pod.UID) ||
			k["serviceaccount"].(map[string]any)["name"] != "runner" || claims["sub"] != "system:serviceaccount:default:runner" {
			t.Errorf("claims %v", claims)
		}

		client := bearer(t, srv, tr.Status.Token)
		if who := whoami(ctx, t, client); who != "system:serviceaccount:default:runner" {
			t.Fatalf("the token authenticates as %q", who)
		}
		if err := srv.Client.CoreV1().Pods("default").Delete(ctx, "web", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
			t.Fatal(err)
		}
		testserver.Poll(t, 10*time.Second, "the token of a deleted pod refused", func() error {
			_, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
			if !apierrors.IsUnauthorized(err) {
				return errorf("self subject review: %v, want 401", err)
			}
			return nil
		})
	})

	t.Run("service account deleted", func(t *testing.T) {
		tr, err := sas.CreateToken(ctx, "other", tokenRequest(600, nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		client := bearer(t, srv, tr.Status.Token)
		if who := whoami(ctx, t, client); who != "system:serviceaccount:default:other" {
			t.Fatalf("the token authenticates as %q", who)
		}
		if err := sas.Delete(ctx, "other", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		testserver.Poll(t, 10*time.Second, "the token of a deleted service account refused", func() error {
			_, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
			if !apierrors.IsUnauthorized(err) {
				return errorf("self subject review: %v, want 401", err)
			}
			return nil
		})
	})
}

// TestIssuerDiscovery reads the OIDC discovery documents without
// credentials, as relying parties do once an administrator binds
// system:service-account-issuer-discovery to system:unauthenticated (by
// default only service accounts may).
func TestIssuerDiscovery(t *testing.T) {
	srv := testserver.Start(t, nil)
	ctx := context.Background()
	anon, err := rest.HTTPClientFor(rest.AnonymousClientConfig(srv.Config))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := anon.Get(srv.Config.Host + "/.well-known/openid-configuration"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous discovery before the binding: %s, want 403", resp.Status)
	}
	_, err = srv.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "public-issuer-discovery"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:service-account-issuer-discovery"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:unauthenticated"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	testserver.Poll(t, 10*time.Second, "anonymous discovery allowed", func() error {
		resp, err := anon.Get(srv.Config.Host + "/.well-known/openid-configuration")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errorf("status %s", resp.Status)
		}
		return nil
	})
	var config struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	getJSON(t, anon, srv.Config.Host+"/.well-known/openid-configuration", &config)
	if config.Issuer != "https://kubernetes.default.svc.cluster.local" || !strings.HasSuffix(config.JWKSURI, "/openid/v1/jwks") ||
		len(config.Algs) != 1 || config.Algs[0] != "RS256" {
		t.Errorf("discovery document %+v", config)
	}
	var jwks struct {
		Keys []struct {
			Kty, Alg, Use, Kid string
		} `json:"keys"`
	}
	getJSON(t, anon, srv.Config.Host+"/openid/v1/jwks", &jwks)
	if len(jwks.Keys) != 1 || jwks.Keys[0].Kty != "RSA" || jwks.Keys[0].Use != "sig" || jwks.Keys[0].Kid == "" {
		t.Errorf("key set %+v", jwks)
	}
	resp, err := anon.Get(srv.Config.Host + "/api/v1/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous list namespaces: %d, want 401", resp.StatusCode)
	}
}

func getJSON(t *testing.T, client *http.Client, url string, into any) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// whoami is the user the client authenticates as (SelfSubjectReview, which
// every authenticated user may create).
func whoami(ctx context.Context, t *testing.T, client kubernetes.Interface) string {
	t.Helper()
	r, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("self subject review: %v", err)
	}
	return r.Status.UserInfo.Username
}
