package join

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
)

func TestLimiterDelays(t *testing.T) {
	l := &Limiter{FreeFailures: 3, BaseDelay: time.Second, MaxDelay: 5 * time.Second, Forget: time.Minute}
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{{0, 0}, {2, 0}, {3, time.Second}, {4, 2 * time.Second}, {5, 4 * time.Second}, {6, 5 * time.Second}, {40, 5 * time.Second}} {
		if got := l.delayAfter(tc.failures); got != tc.want {
			t.Errorf("after %d failures: %v, want %v", tc.failures, got, tc.want)
		}
	}
	for range 4 {
		l.Failed("10.0.0.1", now)
	}
	if d := l.Delay("10.0.0.1", now); d != 2*time.Second {
		t.Errorf("after 4 failures: %v", d)
	}
	if d := l.Delay("10.0.0.2", now); d != 0 {
		t.Errorf("another address: %v, want no delay", d)
	}
	if d := l.Delay("10.0.0.1", now.Add(2*time.Minute)); d != 0 {
		t.Errorf("after Forget: %v, want no delay", d)
	}
	if n := l.Failed("10.0.0.1", now.Add(2*time.Minute)); n != 1 {
		t.Errorf("a failure after Forget counts %d, want 1", n)
	}
	l.Succeeded("10.0.0.1")
	if d := l.Delay("10.0.0.1", now); d != 0 {
		t.Errorf("after a success: %v", d)
	}
}

// Refused bearer tokens from one address are logged and, past the free
// ones, the next attempts from it wait; requests without a bearer token
// and other addresses do not.
func TestThrottle(t *testing.T) {
	next := authenticator.RequestFunc(func(req *http.Request) (*authenticator.Response, bool, error) {
		if req.Header.Get("Authorization") == "Bearer good" {
			return &authenticator.Response{User: &user.DefaultInfo{Name: "u"}}, true, nil
		}
		return nil, false, nil
	})
	var logs bytes.Buffer
	l := &Limiter{FreeFailures: 2, BaseDelay: 200 * time.Millisecond, MaxDelay: time.Second, Forget: time.Minute}
	a := Throttle(next, l, slog.New(slog.NewTextHandler(&logs, nil)))
	call := func(addr, token string) (bool, time.Duration) {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, Path, nil)
		req.RemoteAddr = addr + ":40000"
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		start := time.Now()
		_, ok, _ := a.AuthenticateRequest(req)
		return ok, time.Since(start)
	}
	for i := range 2 {
		if ok, took := call("192.0.2.1", "wrong"); ok || took > 100*time.Millisecond {
			t.Fatalf("refusal %d: ok %v, took %v; want refused at once", i, ok, took)
		}
	}
	if ok, took := call("192.0.2.1", "good"); !ok || took < 200*time.Millisecond {
		t.Errorf("third attempt: ok %v, took %v; want it delayed 200ms", ok, took)
	}
	if _, took := call("192.0.2.9", "wrong"); took > 100*time.Millisecond {
		t.Errorf("another address waited %v", took)
	}
	if !strings.Contains(logs.String(), "bearer token refused") || !strings.Contains(logs.String(), "address=192.0.2.1") {
		t.Errorf("log:\n%s", logs.String())
	}
	if _, took := call("192.0.2.1", ""); took > 100*time.Millisecond {
		t.Errorf("a request without a bearer token waited %v", took)
	}
}
