// Command aggregated-api is the small aggregated API server of skiff's
// tests: run in a pod behind a Service named by an APIService, it serves
// the discovery of one group version with one resource, flunders, whose
// list names the user the API server's aggregator proxied the request for
// (X-Remote-User) and the client certificate it came with, so that a test
// sees the proxying end to end. It serves HTTPS on a self-signed
// certificate (the APIService says insecureSkipTLSVerify, as metrics-
// server's chart does).
//
//	aggregated-api [-addr :8443] [-group wardle.skiff.dev] [-version v1alpha1]
package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	certutil "k8s.io/client-go/util/cert"
)

// ProxyClientAnnotation is the annotation of each listed flunder that
// names the CommonName of the client certificate the request came with.
const ProxyClientAnnotation = "aggregated-api.skiff.dev/proxy-client"

func main() {
	addr := flag.String("addr", ":8443", "address to serve HTTPS on")
	group := flag.String("group", "wardle.skiff.dev", "API group served")
	version := flag.String("version", "v1alpha1", "API version served")
	flag.Parse()
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("aggregated-api", nil, nil)
	if err != nil {
		fail(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		fail(err)
	}
	srv := &http.Server{
		Addr: *addr, Handler: handler(*group, *version), ReadHeaderTimeout: 10 * time.Second,
		// The aggregator shows its front-proxy client certificate.
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12},
	}
	slog.Info("serving", "addr", *addr, "group", *group, "version", *version)
	if err := srv.ListenAndServeTLS("", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fail(err)
	}
}

func fail(err error) {
	slog.Error("aggregated-api", "err", err)
	os.Exit(1)
}

// flunderList is the list the server answers: one flunder named after
// the user.
type flunderList struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ListMeta `json:"metadata"`
	Items           []flunder       `json:"items"`
}

type flunder struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
}

func handler(group, version string) http.Handler {
	gv := group + "/" + version
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/apis/"+gv, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: gv,
			APIResources: []metav1.APIResource{{Name: "flunders", SingularName: "flunder", Namespaced: true, Kind: "Flunder", Verbs: []string{"list"}}},
		})
	})
	mux.HandleFunc("/apis/"+gv+"/namespaces/{namespace}/flunders", func(w http.ResponseWriter, r *http.Request) {
		client := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			client = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		user := r.Header.Get("X-Remote-User")
		slog.Info("list", "user", user, "client", client)
		writeJSON(w, flunderList{
			TypeMeta: metav1.TypeMeta{Kind: "FlunderList", APIVersion: gv},
			Items: []flunder{{
				TypeMeta: metav1.TypeMeta{Kind: "Flunder", APIVersion: gv},
				Metadata: metav1.ObjectMeta{Name: fmt.Sprintf("for-%s", sanitize(user)), Namespace: r.PathValue("namespace"),
					Annotations: map[string]string{ProxyClientAnnotation: client}},
			}},
		})
	})
	return mux
}

// sanitize makes a user name (system:admin) a valid object name.
func sanitize(user string) string {
	out := []byte(user)
	for i, c := range out {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			out[i] = '-'
		}
	}
	return string(out)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
