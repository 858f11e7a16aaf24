package main

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	h := handler("wardle.skiff.dev", "v1alpha1")
	for _, tc := range []struct {
		name, path, user, client string
		code                     int
		want                     string
	}{
		{name: "discovery", path: "/apis/wardle.skiff.dev/v1alpha1", code: 200, want: "APIResourceList"},
		{name: "list for the user", path: "/apis/wardle.skiff.dev/v1alpha1/namespaces/ns/flunders", user: "system:admin", client: "front-proxy-client", code: 200, want: "FlunderList"},
		{name: "other version", path: "/apis/wardle.skiff.dev/v1", code: 404},
		{name: "health", path: "/healthz", code: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.user != "" {
				req.Header.Set("X-Remote-User", tc.user)
			}
			if tc.client != "" {
				req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Subject: pkix.Name{CommonName: tc.client}}}}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Fatalf("code %d, want %d", rec.Code, tc.code)
			}
			if tc.want == "" {
				return
			}
			var out struct {
				Kind  string    `json:"kind"`
				Items []flunder `json:"items"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			if out.Kind != tc.want {
				t.Errorf("kind %q, want %q", out.Kind, tc.want)
			}
			if tc.user != "" {
				if len(out.Items) != 1 || out.Items[0].Metadata.Name != "for-system-admin" || out.Items[0].Metadata.Namespace != "ns" ||
					out.Items[0].Metadata.Annotations[ProxyClientAnnotation] != tc.client {
					t.Errorf("items %+v", out.Items)
				}
			}
		})
	}
}
