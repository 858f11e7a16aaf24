package etcd

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ZapLogger is a zap logger that writes into log's handler, for etcd's server
// and client, which log through zap. etcd's info and warning lines (many per
// start, such as "simple token is not cryptographically signed") come out at
// debug level, as skiff ran etcd at its error level before; its errors as
// such, but for the known noise that levelOf lowers.
func ZapLogger(log *slog.Logger) *zap.Logger {
	return zap.New(newSlogCore(log))
}

func newSlogCore(log *slog.Logger) *slogCore {
	return &slogCore{handler: log.Handler(), closing: new(atomic.Bool)}
}

// slogCore is a zapcore.Core over a slog.Handler.
type slogCore struct {
	handler slog.Handler
	attrs   []slog.Attr
	// closing is set once the embedded etcd is being closed: its listeners
	// then report "server closed", which is the shutdown, not a failure.
	closing *atomic.Bool
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return c.handler.Enabled(context.Background(), slogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{handler: c.handler, attrs: append(slices.Clip(c.attrs), attrsOf(fields)...), closing: c.closing}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	level := c.levelOf(e, fields)
	ctx := context.Background()
	if !c.handler.Enabled(ctx, level) {
		return nil
	}
	msg := e.Message
	if e.LoggerName != "" {
		msg = e.LoggerName + ": " + msg
	}
	r := slog.NewRecord(e.Time, level, msg, 0)
	r.AddAttrs(c.attrs...)
	r.AddAttrs(attrsOf(fields)...)
	return c.handler.Handle(ctx, r)
}

func (c *slogCore) Sync() error { return nil }

// levelOf is the slog level of an entry: etcd's own level, except for
// messages that are known not to be failures.
func (c *slogCore) levelOf(e zapcore.Entry, fields []zapcore.Field) slog.Level {
	switch {
	case c.closing.Load() && strings.HasPrefix(e.Message, "setting up serving from embedded etcd failed"):
		// Close stops the listeners under the serving goroutines.
		return slog.LevelDebug
	case e.Message == "failed to update storage version":
		// The storage version monitor runs when the cluster version is
		// first set, before a fresh member's backend records the raft
		// term it needs; it tries again on its next round (every few
		// seconds) and succeeds.
		return slog.LevelDebug
	}
	return slogLevel(e.Level)
}

// slogLevel maps zap's levels onto slog's: etcd's errors are errors, the
// rest is debug.
func slogLevel(l zapcore.Level) slog.Level {
	if l >= zapcore.ErrorLevel {
		return slog.LevelError
	}
	return slog.LevelDebug
}

func attrsOf(fields []zapcore.Field) []slog.Attr {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		v := enc.Fields[k]
		if d, ok := v.(time.Duration); ok {
			v = d.String()
		}
		attrs = append(attrs, slog.Any(k, v))
	}
	return attrs
}
