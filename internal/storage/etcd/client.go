package etcd

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ClientConfig is how a client reaches etcd: its client URLs and, for an
// etcd that serves TLS, the CA that signed its serving certificate and the
// client certificate it requires (kube-apiserver's --etcd-servers,
// --etcd-cafile, --etcd-certfile, --etcd-keyfile).
type ClientConfig struct {
	Endpoints []string
	// CAFile verifies etcd's serving certificate; CertFile and KeyFile are
	// the client certificate shown to it. Empty: plain connections, unless
	// an endpoint is https (then the system's roots and no certificate).
	CAFile, CertFile, KeyFile string
}

// TLS is the client TLS configuration, nil when the config names no file.
func (c ClientConfig) TLS() (*tls.Config, error) {
	if c.CAFile == "" && c.CertFile == "" && c.KeyFile == "" {
		return nil, nil
	}
	info := transport.TLSInfo{TrustedCAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile}
	cfg, err := info.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("etcd client TLS: %w", err)
	}
	return cfg, nil
}

// New connects a client (clientv3 dials lazily: errors show on first use).
func (c ClientConfig) New(log *slog.Logger) (*clientv3.Client, error) {
	tlsCfg, err := c.TLS()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints: c.Endpoints, TLS: tlsCfg, DialTimeout: 10 * time.Second, Logger: ZapLogger(log),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	return client, nil
}
