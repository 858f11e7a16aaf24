//go:build integration

package etcd_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff.dev/skiff/internal/pki"
	"skiff.dev/skiff/internal/storage/etcd"
)

// The embedded etcd serves https only and answers only a client that shows
// a certificate of the CA with an allowed CommonName: one without a
// certificate, or with another CommonName, is refused.
func TestEmbeddedEtcdRefusesClientsWithoutCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(name string, serving bool) (string, string) {
		cert, key := filepath.Join(dir, "tls", name+".crt"), filepath.Join(dir, "tls", name+".key")
		l := pki.Leaf{CommonName: name}
		if serving {
			l.IPs = []net.IP{net.ParseIP("127.0.0.1")}
		}
		if err := ca.EnsureLeaf(cert, key, l); err != nil {
			t.Fatal(err)
		}
		return cert, key
	}
	serverCert, serverKey := leaf("etcd-server", true)
	clientCert, clientKey := leaf("allowed-client", false)
	otherCert, otherKey := leaf("system:node:other", false)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := etcd.Start(ctx, etcd.Config{
		DataDir: filepath.Join(dir, "etcd"), Fast: true, UnsafeNoFsync: true, Logger: log,
		TLS: &etcd.ServerTLS{CAFile: ca.CertFile, CertFile: serverCert, KeyFile: serverKey,
			ClientCNs: []string{"allowed-client", "etcd-server"}, PeerCNs: []string{"etcd-server"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.Endpoint, "https://") {
		t.Fatalf("endpoint %s, want https", srv.Endpoint)
	}
	put := func(cfg etcd.ClientConfig) error {
		t.Helper()
		c, err := cfg.New(log)
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, err = c.Put(ctx, "/probe", "x")
		return err
	}
	for _, tc := range []struct {
		name   string
		cfg    etcd.ClientConfig
		allows bool
	}{
		{"plain HTTP", etcd.ClientConfig{Endpoints: []string{strings.Replace(srv.Endpoint, "https://", "http://", 1)}}, false},
		{"no client certificate", etcd.ClientConfig{Endpoints: []string{srv.Endpoint}, CAFile: ca.CertFile}, false},
		{"another CommonName", etcd.ClientConfig{Endpoints: []string{srv.Endpoint}, CAFile: ca.CertFile, CertFile: otherCert, KeyFile: otherKey}, false},
		{"allowed client", etcd.ClientConfig{Endpoints: []string{srv.Endpoint}, CAFile: ca.CertFile, CertFile: clientCert, KeyFile: clientKey}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := put(tc.cfg)
			if tc.allows && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.allows && err == nil {
				t.Fatal("the write went through")
			}
		})
	}
}
