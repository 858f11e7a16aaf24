package testserver

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	certutil "k8s.io/client-go/util/cert"
)

// ServeTLSAtEndpoint starts an HTTPS server for handler on the API server's
// endpoint address (not loopback, which EndpointSlices refuse: as a pod's
// address would be), with a self-signed certificate for host, asking for
// client certificates as clientAuth says. It returns the server (stopped
// when the test ends, or earlier by Close), its port and its certificate,
// the CA bundle its clients need.
func (s *Server) ServeTLSAtEndpoint(t testing.TB, handler http.Handler, host string, clientAuth tls.ClientAuthType) (*httptest.Server, int32, []byte) {
	t.Helper()
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(host, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(s.EndpointAddress.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener.Close()
	srv.Listener = l
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: clientAuth}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, int32(l.Addr().(*net.TCPAddr).Port), certPEM
}
