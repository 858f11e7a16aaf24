package etcd

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestZapLogger(t *testing.T) {
	tests := []struct {
		name    string
		closing bool
		log     func(*zap.Logger)
		want    string // "" when nothing is written at info level
	}{
		{name: "info is debug", log: func(l *zap.Logger) { l.Info("starting an etcd server") }},
		{name: "warning is debug", log: func(l *zap.Logger) { l.Warn("simple token is not cryptographically signed") }},
		{
			name: "error",
			log:  func(l *zap.Logger) { l.Error("failed to apply", zap.Error(errors.New("boom")), zap.Int("n", 2)) },
			want: `level=ERROR msg="failed to apply" error=boom n=2`,
		},
		{
			name: "serving failure while running",
			log: func(l *zap.Logger) {
				l.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("mux: server closed")))
			},
			want: `level=ERROR msg="setting up serving from embedded etcd failed."`,
		},
		{
			name:    "serving ends on close",
			closing: true,
			log: func(l *zap.Logger) {
				l.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("mux: server closed")))
			},
		},
		{
			name: "storage version retried",
			log: func(l *zap.Logger) {
				l.Error("failed to update storage version", zap.String("cluster-version", "3.7.0"))
			},
		},
		{
			name: "fields of With",
			log:  func(l *zap.Logger) { l.With(zap.String("member", "a")).Error("x") },
			want: `level=ERROR msg=x member=a`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			core := newSlogCore(slog.New(slog.NewTextHandler(&buf, nil)))
			core.closing.Store(tt.closing)
			tt.log(zap.New(core))
			got := strings.TrimSpace(buf.String())
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("logged %q, want %q", got, tt.want)
			}
		})
	}
}
