package agent

import (
	"context"
	"log/slog"
)

// componentCloser stops a node component (the service proxy, the
// NetworkPolicy enforcement, the routes) and waits for it to remove its
// rules.
type componentCloser struct {
	cancel context.CancelFunc
	done   <-chan struct{}
}

func (p componentCloser) Close(ctx context.Context) error {
	p.cancel()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startComponent runs a node component in a goroutine until the returned
// closer is closed. The component's context outlives ctx's cancellation
// (it keeps ctx's values only), so that the component stops, removing what
// it put in the kernel, when the runtime's closers run and not before. An
// error of run is logged as what, not fatal: pods still run without the
// component.
func startComponent(ctx context.Context, log *slog.Logger, what string, run func(context.Context) error) componentCloser {
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := run(cctx); err != nil {
			log.Error(what, "err", err)
		}
	}()
	return componentCloser{cancel: cancel, done: done}
}
