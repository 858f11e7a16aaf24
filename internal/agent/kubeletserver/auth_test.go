package kubeletserver

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/internal/pki"
)

// policy is a fake authorizer: the API server's kubelet client and
// system:masters everywhere, "metrics-reader" on nodes/metrics, "broken"
// fails; it records what it was asked.
type policy struct{ asked []authorizer.Attributes }

func (p *policy) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	p.asked = append(p.asked, a)
	u := a.GetUser()
	switch {
	case u.GetName() == "broken":
		return authorizer.DecisionNoOpinion, "", errors.New("the API server is away")
	case u.GetName() == APIServerUser, slices.Contains(u.GetGroups(), user.SystemPrivilegedGroup):
		return authorizer.DecisionAllow, "", nil
	case u.GetName() == "metrics-reader" && a.GetSubresource() == "metrics":
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

// testAuth authenticates client certificates of ca and authorizes with
// policy.
func testAuth(t *testing.T, ca *pki.CA) Auth {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	opts := x509request.DefaultVerifyOptions()
	opts.Roots = roots
	return Auth{Authenticator: x509request.New(opts, x509request.CommonNameUserConversion), Authorizer: &policy{}}
}

func TestRequestAttributes(t *testing.T) {
	tests := []struct {
		method, path string
		verb         string
		subresources []string
	}{
		{"GET", "/containerLogs/prod/web/app", "get", []string{"proxy"}},
		{"POST", "/exec/prod/web/app", "create", []string{"proxy"}},
		{"GET", "/exec/prod/web/uid/app", "get", []string{"proxy"}},
		{"POST", "/attach/prod/web/app", "create", []string{"proxy"}},
		{"POST", "/portForward/prod/web", "create", []string{"proxy"}},
		{"GET", "/run/prod/web/app", "get", []string{"proxy"}},
		{"GET", "/pods", "get", []string{"pods", "proxy"}},
		{"GET", "/pods/", "get", []string{"pods", "proxy"}},
		{"GET", "/podsx", "get", []string{"proxy"}},
		{"GET", "/runningpods/", "get", []string{"pods", "proxy"}},
		{"GET", "/allocatedPods", "get", []string{"pods", "proxy"}},
		{"GET", "/healthz", "get", []string{"healthz", "proxy"}},
		{"GET", "/healthz/syncloop", "get", []string{"healthz", "proxy"}},
		{"GET", "/configz", "get", []string{"configz", "proxy"}},
		{"GET", "/flagz", "get", []string{"configz"}},
		{"GET", "/statusz", "get", []string{"statusz"}},
		{"GET", "/stats/summary", "get", []string{"stats"}},
		{"GET", "/stats", "get", []string{"stats"}},
		{"GET", "/metrics", "get", []string{"metrics"}},
		{"GET", "/metrics/resource", "get", []string{"metrics"}},
		{"GET", "/metrics/cadvisor", "get", []string{"metrics"}},
		{"GET", "/logs/syslog", "get", []string{"log"}},
		{"POST", "/checkpoint/prod/web/app", "create", []string{"checkpoint"}},
		{"PUT", "/x", "update", []string{"proxy"}},
		{"PATCH", "/x", "patch", []string{"proxy"}},
		{"DELETE", "/x", "delete", []string{"proxy"}},
		{"HEAD", "/x", "", []string{"proxy"}},
	}
	u := &user.DefaultInfo{Name: "alice"}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			attrs := RequestAttributes("node-a", u, httptest.NewRequest(tt.method, tt.path, nil))
			var subs []string
			for _, a := range attrs {
				subs = append(subs, a.GetSubresource())
				want := authorizer.AttributesRecord{
					User: u, Verb: tt.verb, APIVersion: "v1", Resource: "nodes", Subresource: a.GetSubresource(),
					Name: "node-a", ResourceRequest: true, Path: tt.path,
				}
				if got, ok := a.(authorizer.AttributesRecord); !ok || !reflect.DeepEqual(got, want) {
					t.Errorf("attributes %+v, want %+v", a, want)
				}
			}
			if !slices.Equal(subs, tt.subresources) {
				t.Errorf("subresources %v, want %v", subs, tt.subresources)
			}
		})
	}
}

// TestNewAuth: the decision is the API server's SubjectAccessReview of the
// node subresource, cached.
func TestNewAuth(t *testing.T) {
	ca, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	{
		// The API server's side: SubjectAccessReview allowing alice on
		// nodes/proxy.
		var mu sync.Mutex
		var reviewed []authorizationv1.SubjectAccessReviewSpec
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch {
			case r.Method == http.MethodPost && r.URL.Path == "/apis/authorization.k8s.io/v1/subjectaccessreviews":
				var sar authorizationv1.SubjectAccessReview
				if err := json.NewDecoder(r.Body).Decode(&sar); err != nil {
					t.Error(err)
				}
				mu.Lock()
				reviewed = append(reviewed, sar.Spec)
				mu.Unlock()
				sar.Status.Allowed = sar.Spec.User == "alice" && sar.Spec.ResourceAttributes.Subresource == "proxy"
				_ = json.NewEncoder(w).Encode(&sar)
			default:
				t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
				w.WriteHeader(http.StatusNotFound)
			}
		}))
		defer api.Close()
		client, err := kubernetes.NewForConfig(&rest.Config{Host: api.URL})
		if err != nil {
			t.Fatal(err)
		}
		auth, err := NewAuth(context.Background(), AuthConfig{Client: client, ClientCA: caPEM})
		if err != nil {
			t.Fatal(err)
		}
		decide := func(u user.Info, path string) authorizer.Decision {
			for _, a := range RequestAttributes("node-a", u, httptest.NewRequest(http.MethodPost, path, nil)) {
				if d, _, err := auth.Authorizer.Authorize(context.Background(), a); err != nil {
					t.Fatal(err)
				} else if d == authorizer.DecisionAllow {
					return d
				}
			}
			return authorizer.DecisionDeny
		}
		alice := &user.DefaultInfo{Name: "alice", Groups: []string{"team"}}
		admin := &user.DefaultInfo{Name: "admin", Groups: []string{user.SystemPrivilegedGroup}}
		apiserver := &user.DefaultInfo{Name: APIServerUser}
		want := map[string]authorizer.Decision{}
		want["alice exec"], want["alice stats"], want["admin exec"], want["apiserver exec"] = authorizer.DecisionAllow, authorizer.DecisionDeny, authorizer.DecisionDeny, authorizer.DecisionDeny
		got := map[string]authorizer.Decision{
			"alice exec":     decide(alice, "/exec/prod/web/app"),
			"alice stats":    decide(alice, "/stats/summary"),
			"admin exec":     decide(admin, "/exec/prod/web/app"),
			"apiserver exec": decide(apiserver, "/exec/prod/web/app"),
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: decision %v, want %v", k, got[k], w)
			}
		}
		first := reviewed[0]
		if first.User != "alice" || !slices.Equal(first.Groups, []string{"team"}) || first.ResourceAttributes == nil ||
			*first.ResourceAttributes != (authorizationv1.ResourceAttributes{Verb: "create", Version: "v1", Resource: "nodes", Subresource: "proxy", Name: "node-a"}) {
			t.Errorf("first review %+v", first)
		}
		// A second identical request is answered from the cache.
		mu.Lock()
		n := len(reviewed)
		mu.Unlock()
		decide(alice, "/exec/prod/web/app")
		mu.Lock()
		defer mu.Unlock()
		if len(reviewed) != n {
			t.Errorf("a cached decision was reviewed again")
		}
	}
}
