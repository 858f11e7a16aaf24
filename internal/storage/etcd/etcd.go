// Package etcd starts the single-member etcd that skiff server embeds when no
// external etcd cluster is given. etcd is skiff's only store.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Config says where the embedded etcd keeps its data and listens.
type Config struct {
	// DataDir holds the member's data.
	DataDir string
	// ClientURL is the address clients use, e.g. https://127.0.0.1:2379
	// (its scheme follows TLS); a port of 0 picks a free one.
	ClientURL string
	// Fast shortens the raft tick and election timeout; a single member
	// needs no slack and becomes leader in tens of milliseconds.
	Fast bool
	// UnsafeNoFsync skips fsync: for tests only, never the default.
	UnsafeNoFsync bool
	// TLS, when set, makes the member serve its clients and peers over
	// mutual TLS only (https URLs); without it they are served over plain
	// HTTP.
	TLS *ServerTLS
	// Logger receives etcd's log (see ZapLogger); default slog.Default().
	Logger *slog.Logger
}

// ServerTLS is the member's mutual TLS: one certificate serves clients and
// peers (and is the member's own client certificate); a client must show a
// certificate CAFile verifies whose CommonName is in ClientCNs, a peer one
// whose CommonName is in PeerCNs (any CommonName when the list is empty).
type ServerTLS struct {
	CAFile, CertFile, KeyFile string
	ClientCNs, PeerCNs        []string
}

func (t *ServerTLS) info(allowedCNs []string) transport.TLSInfo {
	return transport.TLSInfo{
		CertFile: t.CertFile, KeyFile: t.KeyFile, TrustedCAFile: t.CAFile, ClientCertAuth: true,
		AllowedCNs: allowedCNs,
	}
}

// Server is a running embedded etcd.
type Server struct {
	etcd    *embed.Etcd
	closing *atomic.Bool
	// Endpoint is the client URL to give to etcd clients.
	Endpoint string
}

// Start launches the member and waits until it serves clients.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	var (
		e       *embed.Etcd
		cu      *url.URL
		closing *atomic.Bool
	)
	// Ports picked free may be taken by another process before etcd listens
	// on them; freshly picked ones are picked again then.
	for attempt := 1; ; attempt++ {
		var (
			pu    *url.URL
			fresh bool
			err   error
		)
		cu, pu, fresh, err = urls(cfg)
		if err != nil {
			return nil, err
		}
		var ec *embed.Config
		ec, closing = embedConfig(cfg, cu, pu)
		e, err = embed.StartEtcd(ec)
		if err == nil {
			break
		}
		if fresh && attempt < 3 && errors.Is(err, syscall.EADDRINUSE) {
			if rmErr := os.Remove(savedURLsPath(cfg.DataDir)); rmErr != nil {
				return nil, fmt.Errorf("forget taken etcd urls: %w", rmErr)
			}
			continue
		}
		return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.DataDir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s not ready after 60s", cfg.DataDir)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	return &Server{etcd: e, closing: closing, Endpoint: cu.String()}, nil
}

// embedConfig is etcd's configuration of a member serving clients at cu and
// peers at pu, and the flag that quiets its log while it closes.
func embedConfig(cfg Config, cu, pu *url.URL) (*embed.Config, *atomic.Bool) {
	ec := embed.NewConfig()
	ec.Name = "skiff"
	ec.Dir = cfg.DataDir
	ec.ListenClientUrls = []url.URL{*cu}
	ec.AdvertiseClientUrls = []url.URL{*cu}
	ec.ListenPeerUrls = []url.URL{*pu}
	ec.AdvertisePeerUrls = []url.URL{*pu}
	ec.InitialCluster = fmt.Sprintf("%s=%s", ec.Name, pu.String())
	if cfg.TLS != nil {
		ec.ClientTLSInfo = cfg.TLS.info(cfg.TLS.ClientCNs)
		ec.PeerTLSInfo = cfg.TLS.info(cfg.TLS.PeerCNs)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	core := newSlogCore(log)
	ec.Logger = "zap"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(core))
	ec.UnsafeNoFsync = cfg.UnsafeNoFsync
	// The API server's compactor removes old revisions; etcd's own periodic
	// compaction stays off (a retention of 0).
	ec.AutoCompactionMode = "periodic"
	ec.AutoCompactionRetention = "0"
	if cfg.Fast {
		ec.TickMs = 10
		ec.ElectionMs = 100
	}
	return ec, core.closing
}

// Close stops the member.
func (s *Server) Close() {
	s.closing.Store(true)
	s.etcd.Close()
}

// urls picks the client and peer URLs. A member keeps its URLs across
// restarts (they are recorded in its data), so the ports chosen on first start
// are saved beside the data and reused. fresh reports a first start with a
// port picked now (from a port of 0): another may be picked if it is taken.
func urls(cfg Config) (client, peer *url.URL, fresh bool, err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, false, fmt.Errorf("etcd data dir: %w", err)
	}
	saved := savedURLsPath(cfg.DataDir)
	clientURL, peerURL := cfg.ClientURL, "http://127.0.0.1:0"
	b, err := os.ReadFile(saved)
	firstStart := err != nil
	if err == nil {
		if parts := strings.Fields(string(b)); len(parts) == 2 {
			if clientURL == "" {
				clientURL = parts[0]
			}
			peerURL = parts[1]
		}
	}
	if clientURL == "" {
		clientURL = "http://127.0.0.1:0"
	}
	if cfg.TLS != nil {
		// A member that served plain HTTP before keeps its ports.
		clientURL, peerURL = withScheme(clientURL, "https"), withScheme(peerURL, "https")
	}
	var picked bool
	if client, picked, err = freeURL(clientURL); err != nil {
		return nil, nil, false, fmt.Errorf("etcd client url: %w", err)
	}
	fresh = picked
	if peer, picked, err = freeURL(peerURL); err != nil {
		return nil, nil, false, fmt.Errorf("etcd peer url: %w", err)
	}
	fresh = firstStart && (fresh || picked)
	if err := os.WriteFile(saved, []byte(client.String()+" "+peer.String()+"\n"), 0o600); err != nil {
		return nil, nil, false, fmt.Errorf("save etcd urls: %w", err)
	}
	return client, peer, fresh, nil
}

// withScheme is raw with its scheme, http or https, replaced by scheme.
func withScheme(raw, scheme string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	return scheme + "://" + rest
}

// savedURLsPath is where the member's URLs are kept beside its data.
func savedURLsPath(dataDir string) string {
	return filepath.Join(dataDir, "skiff-urls")
}

// freeURL resolves a port of 0 in raw to a free port on the same host;
// picked reports that it did.
func freeURL(raw string) (u *url.URL, picked bool, err error) {
	u, err = url.Parse(raw)
	if err != nil {
		return nil, false, err
	}
	if u.Port() != "0" {
		return u, false, nil
	}
	l, err := net.Listen("tcp", u.Hostname()+":0")
	if err != nil {
		return nil, false, err
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return nil, false, err
	}
	u.Host = addr
	return u, true, nil
}

// SavedClientURL is the client URL of the member whose data is in dataDir,
// as it saved it on its first start (for tools that run beside the server).
func SavedClientURL(dataDir string) (string, error) {
	b, err := os.ReadFile(savedURLsPath(dataDir))
	if err != nil {
		return "", fmt.Errorf("embedded etcd's address: %w", err)
	}
	parts := strings.Fields(string(b))
	if len(parts) != 2 {
		return "", fmt.Errorf("embedded etcd's address: %s: want CLIENT-URL PEER-URL", savedURLsPath(dataDir))
	}
	return parts[0], nil
}
