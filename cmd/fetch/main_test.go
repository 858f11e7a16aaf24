package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestGet(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Path == "/hang" {
			<-r.Context().Done()
			return
		}
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-Served-By", []string{"pod-a", "pod-b"}[n%2])
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secure")) }))
	defer tlsSrv.Close()
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	otherCA := filepath.Join(t.TempDir(), "other.crt")
	if err := os.WriteFile(otherCA, selfSigned(t), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		check    func(t *testing.T, out string)
	}{
		{"one request prints the body", []string{"get", srv.URL + "/x"}, 0, func(t *testing.T, out string) {
			if out != "hello" {
				t.Errorf("body %q, want hello", out)
			}
		}},
		{"n requests are tallied by server", []string{"get", "-n", "10", srv.URL + "/x"}, 0, func(t *testing.T, out string) {
			var got tally
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			if got.OK != 10 || got.Errors != 0 || got.ServedBy["pod-a"] != 5 || got.ServedBy["pod-b"] != 5 {
				t.Errorf("tally %+v, want 10 ok split 5/5", got)
			}
		}},
		{"an error status fails", []string{"get", srv.URL + "/fail"}, exitFailed, nil},
		{"errors are counted", []string{"get", "-n", "3", srv.URL + "/fail"}, exitFailed, func(t *testing.T, out string) {
			if !strings.Contains(out, `"errors":3`) {
				t.Errorf("out %q, want 3 errors", out)
			}
		}},
		{"a request that times out names its phase", []string{"get", "-n", "2", "-timeout", "100ms", srv.URL + "/hang"}, exitFailed, func(t *testing.T, out string) {
			if !strings.Contains(out, `"errors":2`) || !strings.Contains(out, "awaiting the response after") {
				t.Errorf("out %q, want 2 errors awaiting the response", out)
			}
		}},
		{"a refused connection names its phase", []string{"get", "-n", "2", "http://" + closedAddr(t) + "/x"}, exitFailed, func(t *testing.T, out string) {
			if !strings.Contains(out, "connecting after") {
				t.Errorf("out %q, want an error while connecting", out)
			}
		}},
		{"https verified against -cacert", []string{"get", "-cacert", ca, tlsSrv.URL}, 0, func(t *testing.T, out string) {
			if out != "secure" {
				t.Errorf("body %q", out)
			}
		}},
		{"https with another CA fails", []string{"get", "-cacert", otherCA, tlsSrv.URL}, exitFailed, nil},
		{"no URL is a usage error", []string{"get"}, exitUsage, nil},
		{"unknown command", []string{"put"}, exitUsage, nil},
		{"unknown record type", []string{"lookup", "-type", "MX", "x"}, exitUsage, nil},
		{"lookup from /etc/hosts", []string{"lookup", "localhost"}, 0, func(t *testing.T, out string) {
			if !strings.Contains(out, "127.0.0.1") && !strings.Contains(out, "::1") {
				t.Errorf("localhost resolved to %q", out)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.wantCode, errb.String())
			}
			if tc.check != nil {
				tc.check(t, out.String())
			}
		})
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// selfSigned returns a PEM CA certificate that signed nothing the test
// servers present (httptest's servers all share one certificate).
func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
