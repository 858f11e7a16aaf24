//go:build integration

package apiserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/testserver"
	"skiff.dev/skiff/internal/wellknown"
)

const (
	wardleGroup   = "wardle.example.com"
	wardleVersion = "v1alpha1"
)

// wardle stands in for an aggregated API server: it serves the discovery
// of wardle.example.com/v1alpha1 and an empty list of flunders, and keeps
// the user each request came for and the client certificate it came with.
type wardle struct {
	mu       sync.Mutex
	users    []string
	groups   [][]string
	proxyCrt []*x509.Certificate
}

func (w *wardle) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	w.users = append(w.users, r.Header.Get("X-Remote-User"))
	w.groups = append(w.groups, r.Header.Values("X-Remote-Group"))
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		w.proxyCrt = append(w.proxyCrt, r.TLS.PeerCertificates[0])
	}
	w.mu.Unlock()
	rw.Header().Set("Content-Type", "application/json")
	gv := wardleGroup + "/" + wardleVersion
	switch r.URL.Path {
	case "/apis/" + gv:
		_ = json.NewEncoder(rw).Encode(metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: gv,
			APIResources: []metav1.APIResource{{Name: "flunders", Namespaced: true, Kind: "Flunder", Verbs: []string{"get", "list"}}},
		})
	case "/apis/" + gv + "/namespaces/default/flunders":
		_, _ = fmt.Fprintf(rw, `{"kind":"FlunderList","apiVersion":%q,"metadata":{},"items":[]}`, gv)
	default:
		rw.WriteHeader(http.StatusNotFound)
		_, _ = rw.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
	}
}

// last returns the user, groups and client certificate of the last request
// whose path is not discovery's.
func (w *wardle) last() (string, []string, *x509.Certificate) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.users) == 0 || len(w.proxyCrt) == 0 {
		return "", nil, nil
	}
	return w.users[len(w.users)-1], w.groups[len(w.groups)-1], w.proxyCrt[len(w.proxyCrt)-1]
}

func condition(svc *apiregistrationv1.APIService) *apiregistrationv1.APIServiceCondition {
	for i := range svc.Status.Conditions {
		if svc.Status.Conditions[i].Type == apiregistrationv1.Available {
			return &svc.Status.Conditions[i]
		}
	}
	return nil
}

// TestAggregation: the built-in groups have local APIServices that are
// available; an APIService backed by a Service is proxied to its endpoint
// with the front proxy's certificate and the user's headers, shows in
// discovery, and turns unavailable when its endpoints go.
func TestAggregation(t *testing.T) {
	s := testserver.Start(t, nil)
	ctx := context.Background()
	agg, err := aggregatorclient.NewForConfig(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	apiservices := agg.ApiregistrationV1().APIServices()

	t.Run("a front proxy asserts the user", func(t *testing.T) {
		// What an external front proxy (or kube-apiserver's aggregator)
		// sends: the front-proxy client certificate and X-Remote-* headers.
		whoami := func(withCert func(*rest.Config)) string {
			t.Helper()
			cfg := rest.AnonymousClientConfig(s.Config)
			withCert(cfg)
			cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
				return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
					r = r.Clone(r.Context())
					r.Header.Set("X-Remote-User", "alice")
					r.Header.Set("X-Remote-Group", "team-a")
					return rt.RoundTrip(r)
				})
			}
			c, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			review, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("whoami: %v", err)
			}
			return review.Status.UserInfo.Username
		}
		tlsDir := filepath.Join(s.DataDir, "tls")
		frontProxy := func(c *rest.Config) {
			c.CertFile, c.KeyFile = filepath.Join(tlsDir, wellknown.FrontProxyClientCertFile), filepath.Join(tlsDir, wellknown.FrontProxyClientKeyFile)
		}
		admin := func(c *rest.Config) {
			c.CertFile, c.KeyFile = s.Config.CertFile, s.Config.KeyFile
			c.CertData, c.KeyData = s.Config.CertData, s.Config.KeyData
		}
		if got := whoami(frontProxy); got != "alice" {
			t.Errorf("user through the front proxy's certificate: %q, want alice", got)
		}
		// Another client's headers are not believed.
		if got := whoami(admin); got == "alice" || got == "" {
			t.Errorf("user through the admin certificate with X-Remote-User: %q, want the certificate's own", got)
		}
	})

	t.Run("local APIServices", func(t *testing.T) {
		want := []string{"v1.", "v1.apps", "v2.autoscaling", "v1.apiextensions.k8s.io", "v1.rbac.authorization.k8s.io",
			"v1.flowcontrol.apiserver.k8s.io", "v1.authentication.k8s.io", "v1beta1.metrics.k8s.io",
			"v1beta2.custom.metrics.k8s.io", "v1beta1.external.metrics.k8s.io"}
		testserver.Poll(t, 30*time.Second, "local APIServices available", func() error {
			list, err := apiservices.List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			available := map[string]bool{}
			for i := range list.Items {
				svc := &list.Items[i]
				if svc.Spec.Service != nil {
					return fmt.Errorf("%s is not local", svc.Name)
				}
				if c := condition(svc); c != nil && c.Status == apiregistrationv1.ConditionTrue {
					available[svc.Name] = true
				}
			}
			for _, name := range want {
				if !available[name] {
					return fmt.Errorf("APIService %s is not available (have %v)", name, available)
				}
			}
			return nil
		})
	})

	t.Run("CustomResourceDefinition group", func(t *testing.T) {
		ext, err := apiextensionsclient.NewForConfig(s.Config)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &apiextensionsv1.CustomResourceDefinition{
			ObjectMeta: metav1.ObjectMeta{Name: "widgets.agg.skiff.test"},
			Spec: apiextensionsv1.CustomResourceDefinitionSpec{
				Group: "agg.skiff.test", Scope: apiextensionsv1.NamespaceScoped,
				Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Kind: "Widget"},
				Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
					Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object"}}}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		testserver.Poll(t, 30*time.Second, "the CRD's local APIService", func() error {
			svc, err := apiservices.Get(ctx, "v1.agg.skiff.test", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if c := condition(svc); c == nil || c.Status != apiregistrationv1.ConditionTrue {
				return fmt.Errorf("not available: %+v", svc.Status)
			}
			return nil
		})
	})

	// The ConfigMap aggregated servers read: the client CA and the front
	// proxy's CA, headers and name.
	var frontProxyCAs *x509.CertPool
	t.Run("extension-apiserver-authentication", func(t *testing.T) {
		var cm *corev1.ConfigMap
		testserver.Poll(t, 30*time.Second, "the ConfigMap", func() error {
			cm, err = s.Client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, wellknown.ExtensionAPIServerAuthenticationConfigMap, metav1.GetOptions{})
			return err
		})
		if cm.Data["client-ca-file"] == "" {
			t.Error("no client-ca-file")
		}
		certs, err := certutil.ParseCertsPEM([]byte(cm.Data["requestheader-client-ca-file"]))
		if err != nil {
			t.Fatalf("requestheader-client-ca-file: %v", err)
		}
		frontProxyCAs = x509.NewCertPool()
		for _, c := range certs {
			frontProxyCAs.AddCert(c)
		}
		for key, want := range map[string]string{
			"requestheader-username-headers":     `["X-Remote-User"]`,
			"requestheader-group-headers":        `["X-Remote-Group"]`,
			"requestheader-extra-headers-prefix": `["X-Remote-Extra-"]`,
			"requestheader-allowed-names":        `["front-proxy-client"]`,
		} {
			if got := cm.Data[key]; got != want {
				t.Errorf("%s = %s, want %s", key, got, want)
			}
		}
	})

	backend := &wardle{}
	parent := t // the backend outlives the subtest that starts it
	t.Run("aggregated API behind a Service", func(t *testing.T) {
		if _, err := s.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "wardle"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		_, port, certPEM := s.ServeTLSAtEndpoint(parent, backend, "api.wardle.svc", tls.RequestClientCert)
		_, err = s.Client.CoreV1().Services("wardle").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "api"},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(port)}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Client.DiscoveryV1().EndpointSlices("wardle").Create(ctx, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "api-1", Labels: map[string]string{discoveryv1.LabelServiceName: "api"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{s.EndpointAddress.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port)}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = apiservices.Create(ctx, &apiregistrationv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: wardleVersion + "." + wardleGroup},
			Spec: apiregistrationv1.APIServiceSpec{
				Service: &apiregistrationv1.ServiceReference{Namespace: "wardle", Name: "api", Port: ptr.To[int32](443)},
				Group:   wardleGroup, Version: wardleVersion, CABundle: certPEM,
				GroupPriorityMinimum: 1000, VersionPriority: 15,
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		testserver.Poll(t, 30*time.Second, "the APIService available", func() error {
			svc, err := apiservices.Get(ctx, wardleVersion+"."+wardleGroup, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if c := condition(svc); c == nil || c.Status != apiregistrationv1.ConditionTrue {
				return fmt.Errorf("not available: %+v", svc.Status)
			}
			return nil
		})
	})

	t.Run("discovery lists the group", func(t *testing.T) {
		testserver.Poll(t, 30*time.Second, "legacy discovery", func() error {
			groups, err := s.Client.Discovery().ServerGroups()
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(groups.Groups, func(g metav1.APIGroup) bool { return g.Name == wardleGroup }) {
				return errors.New("no " + wardleGroup + " in /apis")
			}
			return nil
		})
		testserver.Poll(t, 30*time.Second, "aggregated discovery", func() error {
			raw, err := s.Client.Discovery().RESTClient().Get().AbsPath("/apis").
				SetHeader("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList").DoRaw(ctx)
			if err != nil {
				return err
			}
			var list apidiscoveryv2.APIGroupDiscoveryList
			if err := json.Unmarshal(raw, &list); err != nil {
				return err
			}
			for _, g := range list.Items {
				if g.Name != wardleGroup {
					continue
				}
				for _, v := range g.Versions {
					if v.Version == wardleVersion && slices.ContainsFunc(v.Resources, func(r apidiscoveryv2.APIResourceDiscovery) bool { return r.Resource == "flunders" }) {
						return nil
					}
				}
			}
			return errors.New("no " + wardleGroup + "/flunders in aggregated discovery")
		})
	})

	t.Run("requests are proxied with the front proxy's identity", func(t *testing.T) {
		// The proxy learns of the availability from its informer, a moment
		// after the status is written.
		testserver.Poll(t, 10*time.Second, "a proxied list", func() error {
			raw, err := s.Client.Discovery().RESTClient().Get().AbsPath("/apis", wardleGroup, wardleVersion, "namespaces/default/flunders").DoRaw(ctx)
			if err != nil {
				return err
			}
			if !strings.Contains(string(raw), `"kind":"FlunderList"`) {
				return fmt.Errorf("response %s", raw)
			}
			return nil
		})
		user, groups, cert := backend.last()
		if user != "system:admin" || !slices.Contains(groups, "system:masters") {
			t.Errorf("X-Remote-User %q, X-Remote-Group %v; want system:admin in system:masters", user, groups)
		}
		if cert == nil {
			t.Fatal("the aggregator showed no client certificate")
		}
		if cert.Subject.CommonName != wellknown.FrontProxyClientCommonName {
			t.Errorf("client certificate of %q", cert.Subject.CommonName)
		}
		if frontProxyCAs != nil {
			if _, err := cert.Verify(x509.VerifyOptions{Roots: frontProxyCAs, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("the proxy's certificate is not signed by the published front-proxy CA: %v", err)
			}
		}
	})

	t.Run("unavailable without endpoints", func(t *testing.T) {
		if err := s.Client.DiscoveryV1().EndpointSlices("wardle").Delete(ctx, "api-1", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		testserver.Poll(t, 30*time.Second, "Available False, EndpointsNotFound", func() error {
			svc, err := apiservices.Get(ctx, wardleVersion+"."+wardleGroup, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if c := condition(svc); c == nil || c.Status != apiregistrationv1.ConditionFalse || c.Reason != "EndpointsNotFound" {
				return fmt.Errorf("condition %+v", c)
			}
			return nil
		})
		// The API is refused as Kubernetes refuses it: 503.
		var code int
		s.Client.Discovery().RESTClient().Get().AbsPath("/apis", wardleGroup, wardleVersion, "namespaces/default/flunders").Do(ctx).StatusCode(&code)
		if code != http.StatusServiceUnavailable {
			t.Errorf("GET without endpoints: %d, want 503", code)
		}
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
