//go:build integration

package proxysub_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/pki"
	"skiff.dev/skiff/internal/server/api"
	"skiff.dev/skiff/internal/testserver"
)

// backend is an HTTP server on loopback that says what reached it. The API
// server's proxy transport dials it for every address in routes (the pod
// and endpoint IPs the test writes, which validation keeps off loopback).
type backend struct {
	srv *httptest.Server

	mu     sync.Mutex
	dialed []string
}

func startBackend(t *testing.T) *backend {
	b := &backend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s?%s %s", r.Method, r.URL.Path, r.URL.RawQuery, body)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// transport dials the backend for the addresses in routes and refuses any
// other, recording each address asked for.
func (b *backend) transport(routes ...string) http.RoundTripper {
	allowed := map[string]bool{}
	for _, r := range routes {
		allowed[r] = true
	}
	return &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		b.mu.Lock()
		b.dialed = append(b.dialed, addr)
		b.mu.Unlock()
		if !allowed[addr] {
			return nil, fmt.Errorf("test transport: no route to %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, b.srv.Listener.Addr().String())
	}}
}

func (b *backend) lastDialed() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.dialed) == 0 {
		return ""
	}
	return b.dialed[len(b.dialed)-1]
}

func TestServiceAndPodProxy(t *testing.T) {
	b := startBackend(t)
	srv := testserver.Start(t, func(c *api.Config) {
		c.ProxyTransport = b.transport("10.244.0.5:8000", "10.244.0.7:8000")
	})
	ctx := context.Background()
	core := srv.Client.CoreV1()
	ns := "default"

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
		{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8000)},
	}}}
	if _, err := core.Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A selector-less Service: its Endpoints and EndpointSlice are written
	// by hand, as a user would.
	eps := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Subsets: []corev1.EndpointSubset{{
		Addresses:         []corev1.EndpointAddress{{IP: "10.244.0.5"}},
		NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.244.0.6"}},
		Ports:             []corev1.EndpointPort{{Name: "http", Port: 8000}},
	}}}
	if _, err := core.Endpoints(ns).Create(ctx, eps, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8000)}},
	}
	if _, err := srv.Client.DiscoveryV1().EndpointSlices(ns).Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("client-go ProxyGet by port number", func(t *testing.T) {
		got, err := core.Services(ns).ProxyGet("http", "web", "80", "/health", map[string]string{"q": "1"}).DoRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "GET /health?q=1 " || b.lastDialed() != "10.244.0.5:8000" {
			t.Errorf("got %q via %s", got, b.lastDialed())
		}
	})
	for _, tc := range []struct {
		name, method, path, body, want string
	}{
		{name: "raw path, port name, trailing slash", method: "GET", path: "/api/v1/namespaces/default/services/web:http/proxy/", want: "GET /? "},
		{name: "raw path, no suffix path", method: "GET", path: "/api/v1/namespaces/default/services/http:web:80/proxy", want: "GET /? "},
		{name: "POST with body", method: "POST", path: "/api/v1/namespaces/default/services/web:80/proxy/predict", body: `{"x":1}`, want: `POST /predict? {"x":1}`},
		{name: "DELETE", method: "DELETE", path: "/api/v1/namespaces/default/services/web:80/proxy/a/b", want: "DELETE /a/b? "},
		{name: "pods/proxy, first container port", method: "GET", path: "/api/v1/namespaces/default/pods/model/proxy/health", want: "GET /health? "},
		{name: "pods/proxy, port given", method: "PUT", path: "/api/v1/namespaces/default/pods/model:8000/proxy/x", body: "y", want: "PUT /x? y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.path, "/pods/") {
				ensurePod(t, srv, "model", "10.244.0.7")
			}
			req := core.RESTClient().Verb(tc.method).AbsPath(tc.path)
			if tc.body != "" {
				req = req.Body([]byte(tc.body))
			}
			got, err := req.DoRaw(ctx)
			if err != nil {
				t.Fatalf("%v (%s)", err, got)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}

	// Errors.
	if _, err := core.Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "empty"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ensurePod(t, srv, "local", "127.0.0.1")
	// An Endpoints object naming a pod that is gone is stale: not proxied to.
	if _, err := core.Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "stale"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Endpoints(ns).Create(ctx, &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "stale"}, Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.244.0.5", TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "gone"}}},
		Ports:     []corev1.EndpointPort{{Port: 8000}},
	}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		code       int
		msg        string
	}{
		{name: "no endpoints", path: "/api/v1/namespaces/default/services/empty/proxy/", code: 503, msg: `no endpoints available for service "empty"`},
		{name: "stale endpoint (its pod is gone)", path: "/api/v1/namespaces/default/services/stale:80/proxy/", code: 503, msg: `no endpoints available for service "stale"`},
		{name: "unknown port number", path: "/api/v1/namespaces/default/services/web:81/proxy/", code: 503, msg: `no service port 81 found for service "web"`},
		{name: "unknown port name", path: "/api/v1/namespaces/default/services/web:grpc/proxy/", code: 503, msg: `no endpoints available for service "web"`},
		{name: "no such service", path: "/api/v1/namespaces/default/services/nope/proxy/", code: 404, msg: `services "nope" not found`},
		{name: "loopback pod", path: "/api/v1/namespaces/default/pods/local:80/proxy/", code: 400, msg: "address not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := core.RESTClient().Get().AbsPath(tc.path).Do(ctx)
			var code int
			res.StatusCode(&code)
			body, _ := res.Raw()
			t.Logf("%d %s", code, body)
			err := res.Error()
			var status apierrors.APIStatus
			if !errorsAs(err, &status) || int(status.Status().Code) != tc.code || !strings.Contains(status.Status().Message, tc.msg) {
				t.Errorf("got %v, want %d %q", err, tc.code, tc.msg)
			}
		})
	}
}

func errorsAs(err error, status *apierrors.APIStatus) bool {
	return errors.As(err, status)
}

// ensurePod creates a running pod with one container declaring port 8000
// and the given IP, unless it exists.
func ensurePod(t *testing.T, srv *testserver.Server, name, ip string) {
	t.Helper()
	ctx := context.Background()
	pods := srv.Client.CoreV1().Pods("default")
	if _, err := pods.Get(ctx, name, metav1.GetOptions{}); err == nil {
		return
	}
	pod, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
		NodeName:   "node-a",
		Containers: []corev1.Container{{Name: "app", Image: "model", Ports: []corev1.ContainerPort{{ContainerPort: 8000}}}},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	if _, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestNodeProxy(t *testing.T) {
	srv := testserver.Start(t, nil)
	ctx := context.Background()
	caPEM, err := os.ReadFile(filepath.Join(srv.DataDir, "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	kubelet := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "kubelet %s %s for %s", r.Method, r.URL.Path, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	ca, err := pki.LoadOrCreateCA(filepath.Join(srv.DataDir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	serving, err := ca.TLSCertificate(pki.Leaf{CommonName: "system:node:node-a", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, ServerOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	kubelet.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, Certificates: []tls.Certificate{serving}}
	kubelet.StartTLS()
	t.Cleanup(kubelet.Close)
	port := kubelet.Listener.Addr().(*net.TCPAddr).Port

	node, err := srv.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if _, err := srv.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "kubelet GET /healthz for " + api.KubeletClientCommonName
	got, err := srv.Client.CoreV1().RESTClient().Get().Resource("nodes").Name("node-a").SubResource("proxy").Suffix("healthz").DoRaw(ctx)
	if err != nil || string(got) != want {
		t.Errorf("nodes/proxy: got %q, %v; want %q", got, err, want)
	}
	got, err = srv.Client.CoreV1().RESTClient().Post().AbsPath(fmt.Sprintf("/api/v1/nodes/node-a:%d/proxy/pods", port)).DoRaw(ctx)
	if want := "kubelet POST /pods for " + api.KubeletClientCommonName; err != nil || string(got) != want {
		t.Errorf("nodes/proxy with the kubelet port: got %q, %v; want %q", got, err, want)
	}
}
