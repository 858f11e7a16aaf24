package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestGet(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-Served-By", []string{"pod-a", "pod-b"}[n%2])
		w.Write([]byte("hello"))
	}))
	defer srv.Close()

	tests := []struct {
		name     string
		args     []string
		wantCode int
		check    func(t *testing.T, out string)
	}{
		{"one request prints the body", []string{"get", srv.URL + "/x"}, 0, func(t *testing.T, out string) {
			if out != "hello" {
				t.Errorf("body %q, want hello", out)
			}
		}},
		{"n requests are tallied by server", []string{"get", "-n", "10", srv.URL + "/x"}, 0, func(t *testing.T, out string) {
			var got tally
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			if got.OK != 10 || got.Errors != 0 || got.ServedBy["pod-a"] != 5 || got.ServedBy["pod-b"] != 5 {
				t.Errorf("tally %+v, want 10 ok split 5/5", got)
			}
		}},
		{"an error status fails", []string{"get", srv.URL + "/fail"}, exitFailed, nil},
		{"errors are counted", []string{"get", "-n", "3", srv.URL + "/fail"}, exitFailed, func(t *testing.T, out string) {
			if !strings.Contains(out, `"errors":3`) {
				t.Errorf("out %q, want 3 errors", out)
			}
		}},
		{"no URL is a usage error", []string{"get"}, exitUsage, nil},
		{"unknown command", []string{"put"}, exitUsage, nil},
		{"unknown record type", []string{"lookup", "-type", "MX", "x"}, exitUsage, nil},
		{"lookup from /etc/hosts", []string{"lookup", "localhost"}, 0, func(t *testing.T, out string) {
			if !strings.Contains(out, "127.0.0.1") && !strings.Contains(out, "::1") {
				t.Errorf("localhost resolved to %q", out)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.wantCode, errb.String())
			}
			if tc.check != nil {
				tc.check(t, out.String())
			}
		})
	}
}
