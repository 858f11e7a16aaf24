package kubeletserver

import (
	"context"
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
	// Auth authenticates and authorizes every request. Required.
	Auth Auth
	// Node returns the node a request is for and its provider (nil: 404),
	// so one handler can serve many simulated nodes.
	Node func(r *http.Request) (string, StatsProvider)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// NewStatsHandler serves GET /stats/summary and GET /metrics/resource
// behind the kubelet server's authentication and authorization. The hollow
// nodes use it; Server serves the same routes when Config.Stats is set.
func NewStatsHandler(cfg StatsHandlerConfig) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	mux := http.NewServeMux()
	addStatsRoutes(mux, func(r *http.Request) StatsProvider { _, p := cfg.Node(r); return p }, cfg.Logger)
	return withAuth(cfg.Auth, func(r *http.Request) string { name, _ := cfg.Node(r); return name }, cfg.Logger, mux)
}

func addStatsRoutes(mux *http.ServeMux, provider func(*http.Request) StatsProvider, log *slog.Logger) {
	mux.Handle("GET /stats/summary", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	}))
	mux.Handle("GET /metrics/resource", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	}))
}
