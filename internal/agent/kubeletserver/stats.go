package kubeletserver

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"skiff.dev/skiff/internal/agent/stats"
)

// StatsProvider measures the node and its pods (stats.Collector). With
// an error it may still return what it could measure.
type StatsProvider interface {
	Summary(ctx context.Context) (*statsapi.Summary, error)
}

// StatsHandlerConfig configures NewStatsHandler.
type StatsHandlerConfig struct {
	// ClientCA verifies callers' client certificates. Required.
	ClientCA *x509.CertPool
	// Provider returns the provider that answers the request (nil: 404),
	// so one handler can serve many simulated nodes.
	Provider func(r *http.Request) StatsProvider
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// NewStatsHandler serves GET /stats/summary and GET /metrics/resource
// behind the kubelet server's client certificate check. The hollow nodes
// use it; Server serves the same routes when Config.Stats is set.
func NewStatsHandler(cfg StatsHandlerConfig) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	mux := http.NewServeMux()
	addStatsRoutes(mux, func(h http.Handler) http.Handler { return authenticate(cfg.ClientCA, cfg.Logger, h) }, cfg.Provider, cfg.Logger)
	return mux
}

func addStatsRoutes(mux *http.ServeMux, auth func(http.Handler) http.Handler, provider func(*http.Request) StatsProvider, log *slog.Logger) {
	mux.Handle("GET /stats/summary", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := provider(r)
		if p == nil {
			http.NotFound(w, r)
			return
		}
		s, err := p.Summary(r.Context())
		if err != nil {
			writeStatus(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	})))
	mux.Handle("GET /metrics/resource", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := provider(r)
		if p == nil {
			http.NotFound(w, r)
			return
		}
		s, err := p.Summary(r.Context())
		if err != nil {
			log.Debug("kubelet server: resource metrics incomplete", "err", err)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(stats.ResourceCollector{Summary: s, Incomplete: err != nil})
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	})))
}
