package join

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
)

// Limiter counts the refused bearer tokens of each client address, so that
// guessing a join token from one address is slowed down: after
// FreeFailures refusals each further attempt from that address waits
// (BaseDelay, twice that, four times ... up to MaxDelay) before its token
// is looked at. An address that has not failed for Forget is forgotten.
type Limiter struct {
	FreeFailures        int
	BaseDelay, MaxDelay time.Duration
	Forget              time.Duration

	mu       sync.Mutex
	failures map[string]failures
}

type failures struct {
	count int
	last  time.Time
}

// NewLimiter is a Limiter with 5 free failures, delays from 1 s to 10 s, and
// addresses forgotten after 10 minutes without a failure.
func NewLimiter() *Limiter {
	return &Limiter{FreeFailures: 5, BaseDelay: time.Second, MaxDelay: 10 * time.Second, Forget: 10 * time.Minute}
}

// delayAfter is how long an attempt waits after n refusals.
func (l *Limiter) delayAfter(n int) time.Duration {
	if n < l.FreeFailures {
		return 0
	}
	d := l.BaseDelay << min(n-l.FreeFailures, 10)
	return min(d, l.MaxDelay)
}

// Delay is how long an attempt from addr waits at now.
func (l *Limiter) Delay(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.failures[addr]
	if !ok || now.Sub(f.last) > l.Forget {
		return 0
	}
	return l.delayAfter(f.count)
}

// Failed records a refusal from addr at now and returns how many there
// have been in a row.
func (l *Limiter) Failed(addr string, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failures == nil {
		l.failures = map[string]failures{}
	}
	f := l.failures[addr]
	if now.Sub(f.last) > l.Forget {
		f.count = 0
	}
	f.count++
	f.last = now
	l.failures[addr] = f
	if len(l.failures) > 10000 {
		for a, old := range l.failures {
			if now.Sub(old.last) > l.Forget {
				delete(l.failures, a)
			}
		}
	}
	return f.count
}

// Succeeded forgets addr's refusals.
func (l *Limiter) Succeeded(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, addr)
}

// Throttle wraps the API server's authenticator: a request with a bearer
// token that no authenticator accepts counts as a refusal of its address
// in l and is logged; the next requests with a bearer token from that
// address wait as l says before they are authenticated.
func Throttle(next authenticator.Request, l *Limiter, log *slog.Logger) authenticator.Request {
	return authenticator.RequestFunc(func(req *http.Request) (*authenticator.Response, bool, error) {
		if !strings.HasPrefix(req.Header.Get("Authorization"), "Bearer ") {
			return next.AuthenticateRequest(req)
		}
		addr, _, err := net.SplitHostPort(req.RemoteAddr)
		if err != nil {
			addr = req.RemoteAddr
		}
		if d := l.Delay(addr, time.Now()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-req.Context().Done():
				t.Stop()
				return nil, false, req.Context().Err()
			}
		}
		resp, ok, err := next.AuthenticateRequest(req)
		if ok {
			l.Succeeded(addr)
			return resp, ok, err
		}
		n := l.Failed(addr, time.Now())
		log.Warn("bearer token refused", "address", addr, "path", req.URL.Path, "failures", n, "nextDelay", l.Delay(addr, time.Now()))
		return resp, ok, err
	})
}
