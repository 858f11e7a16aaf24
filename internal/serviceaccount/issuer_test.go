package serviceaccount

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/user"
)

// fakeGetter is a StoreGetter over maps.
func fakeGetter(objs ...any) *StoreGetter {
	return &StoreGetter{
		ServiceAccounts: mapGetter(objs, func(o any) (metav1.Object, bool) { sa, ok := o.(*corev1.ServiceAccount); return sa, ok }),
		Pods:            mapGetter(objs, func(o any) (metav1.Object, bool) { p, ok := o.(*corev1.Pod); return p, ok }),
		Secrets:         mapGetter(objs, func(o any) (metav1.Object, bool) { s, ok := o.(*corev1.Secret); return s, ok }),
		Nodes:           mapGetter(objs, func(o any) (metav1.Object, bool) { n, ok := o.(*corev1.Node); return n, ok }),
	}
}

func newTestIssuer(t *testing.T, mutate func(*Options)) *Issuer {
	t.Helper()
	key := filepath.Join(t.TempDir(), "tls", "sa.key")
	if err := EnsureSigningKey(key); err != nil {
		t.Fatal(err)
	}
	opts := Options{SigningKeyFile: key}
	if mutate != nil {
		mutate(&opts)
	}
	iss, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func TestEnsureSigningKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tls", "sa.key")
	if err := EnsureSigningKey(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
	}
	first, _ := os.ReadFile(path)
	if err := EnsureSigningKey(path); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(path); string(first) != string(second) {
		t.Error("a second start replaced the key")
	}
}

func TestAuthenticate(t *testing.T) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "runner", UID: "sa-uid"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web-1", UID: "pod-uid"}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", UID: "node-uid"}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "s", UID: "secret-uid"}}
	recreated := func(o metav1.Object, uid types.UID) metav1.Object { o.SetUID(uid); return o }
	iss := newTestIssuer(t, nil)
	other := newTestIssuer(t, nil)
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"}
	for _, tc := range []struct {
		name      string
		signer    *Issuer
		binding   Binding
		audiences []string
		objects   []any
		wantUser  *user.DefaultInfo
	}{{
		name: "unbound", signer: iss, objects: []any{sa},
		wantUser: &user.DefaultInfo{Name: "system:serviceaccount:team-a:runner", UID: "sa-uid", Groups: groups},
	}, {
		name: "bound to a pod on a node", signer: iss, binding: Binding{Pod: pod, Node: node}, objects: []any{sa, pod},
		wantUser: &user.DefaultInfo{Name: "system:serviceaccount:team-a:runner", UID: "sa-uid", Groups: groups, Extra: map[string][]string{
			"authentication.kubernetes.io/pod-name": {"web-1"}, "authentication.kubernetes.io/pod-uid": {"pod-uid"},
			"authentication.kubernetes.io/node-name": {"node-1"}, "authentication.kubernetes.io/node-uid": {"node-uid"},
		}},
	}, {
		name: "bound to a secret", signer: iss, binding: Binding{Secret: secret}, objects: []any{sa, secret},
		wantUser: &user.DefaultInfo{Name: "system:serviceaccount:team-a:runner", UID: "sa-uid", Groups: groups},
	}, {
		name: "service account deleted", signer: iss, objects: nil,
	}, {
		name: "service account recreated", signer: iss, objects: []any{recreated(sa.DeepCopy(), "new")},
	}, {
		name: "bound pod deleted", signer: iss, binding: Binding{Pod: pod}, objects: []any{sa},
	}, {
		name: "bound pod recreated", signer: iss, binding: Binding{Pod: pod}, objects: []any{sa, recreated(pod.DeepCopy(), "new")},
	}, {
		name: "bound secret recreated", signer: iss, binding: Binding{Secret: secret}, objects: []any{sa, recreated(secret.DeepCopy(), "new")},
	}, {
		name: "another audience", signer: iss, audiences: []string{"vault"}, objects: []any{sa},
	}, {
		name: "another key", signer: other, objects: []any{sa},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			auds := tc.audiences
			if auds == nil {
				auds = iss.Audiences()
			}
			token, err := tc.signer.Issue(context.Background(), sa, tc.binding, 3600, auds)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, "/api/v1/pods", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, ok, err := iss.Authenticator(fakeGetter(tc.objects...)).AuthenticateRequest(req)
			if tc.wantUser == nil {
				if ok {
					t.Fatalf("authenticated as %v, want refused", resp.User)
				}
				return
			}
			if !ok || err != nil {
				t.Fatalf("refused: %v", err)
			}
			got := resp.User.(*user.DefaultInfo)
			// The credential id (the token's jti) differs every time.
			delete(got.Extra, "authentication.kubernetes.io/credential-id")
			if len(got.Extra) == 0 {
				got.Extra = nil
			}
			if diff := cmp.Diff(tc.wantUser, got); diff != "" {
				t.Errorf("user (-want +got):\n%s", diff)
			}
			if !resp.Audiences.Has(auds[0]) {
				t.Errorf("audiences %v, want %v", resp.Audiences, auds)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		ok   bool
	}{
		{"defaults", Options{}, true},
		{"https issuer", Options{Issuers: []string{"https://kubernetes.default.svc"}}, true},
		{"plain issuer", Options{Issuers: []string{"skiff"}}, true},
		{"empty issuer", Options{Issuers: []string{""}}, false},
		{"bad URL", Options{Issuers: []string{"https://a b:x"}}, false},
		{"negative cap", Options{MaxTokenExpiration: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.opts.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
