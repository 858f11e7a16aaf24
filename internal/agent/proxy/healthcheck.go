package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// healthServers answers on the healthCheckNodePort of every
// externalTrafficPolicy Local Service, as kube-proxy does: 200 when this
// node has local endpoints for it (a load balancer may send traffic here),
// 503 otherwise.
type healthServers struct {
	addrs []netip.Addr
	log   *slog.Logger

	mu      sync.Mutex
	servers map[serviceKey]*healthServer
}

type healthServer struct {
	port  int32
	local atomic.Int64
	srvs  []*http.Server
}

func newHealthServers(addrs []netip.Addr, log *slog.Logger) *healthServers {
	return &healthServers{addrs: addrs, log: log, servers: map[serviceKey]*healthServer{}}
}

// healthResponse is the body of a health check answer, shaped as
// kube-proxy's.
type healthResponse struct {
	Service struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"service"`
	LocalEndpoints      int  `json:"localEndpoints"`
	ServiceProxyHealthy bool `json:"serviceProxyHealthy"`
}

func (h *healthServer) handler(key serviceKey) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var r healthResponse
		r.Service.Namespace, r.Service.Name = key.Namespace, key.Name
		r.LocalEndpoints = int(h.local.Load())
		r.ServiceProxyHealthy = true
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.LocalEndpoints == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		} else {
			w.WriteHeader(http.StatusOK)
		}
		_ = json.NewEncoder(w).Encode(r)
	})
}

// sync makes the servers match want: new ports listen, gone ones close,
// counts update.
func (hs *healthServers) sync(want map[serviceKey]healthCheck) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for k, s := range hs.servers {
		if w, ok := want[k]; !ok || w.Port != s.port {
			s.close()
			delete(hs.servers, k)
		}
	}
	for k, w := range want {
		if s, ok := hs.servers[k]; ok {
			s.local.Store(int64(w.Local))
			continue
		}
		s := &healthServer{port: w.Port}
		s.local.Store(int64(w.Local))
		for _, a := range hs.addrs {
			if a.IsLoopback() {
				continue
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(a.String(), strconv.Itoa(int(w.Port))))
			if err != nil {
				hs.log.Warn("health check node port", "service", k, "port", w.Port, "err", err)
				continue
			}
			srv := &http.Server{Handler: s.handler(k), ReadHeaderTimeout: 5 * time.Second}
			s.srvs = append(s.srvs, srv)
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					hs.log.Warn("health check server", "service", k, "err", err)
				}
			}()
		}
		hs.servers[k] = s
	}
}

func (h *healthServer) close() {
	for _, s := range h.srvs {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
}

func (hs *healthServers) closeAll() { hs.sync(nil) }
