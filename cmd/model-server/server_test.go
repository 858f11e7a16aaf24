package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func newTestServer(now time.Time, readyAt time.Time) (*server, *bytes.Buffer, *int) {
	var out bytes.Buffer
	crashes := 0
	s := &server{
		version:      "v1",
		modelVersion: "m1",
		hostname:     "pod-a",
		readyAt:      readyAt,
		now:          func() time.Time { return now },
		crash:        func() { crashes++ },
		out:          &out,
	}
	return s, &out, &crashes
}

func TestHandlers(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		readyAt   time.Time
		method    string
		target    string
		body      string
		wantCode  int
		wantBody  string // exact body, or
		wantJSON  map[string]any
		wantLog   string // a line the server must print
		wantCrash bool
	}{
		{name: "health ready", method: "GET", target: "/health", wantCode: 200, wantBody: "ok",
			wantLog: "GET /health 200"},
		{name: "health before ready-after", readyAt: now.Add(time.Second), method: "GET", target: "/health",
			wantCode: 503, wantBody: "not ready\n", wantLog: "GET /health 503"},
		{name: "info", method: "GET", target: "/", wantCode: 200,
			wantJSON: map[string]any{"version": "v1", "model_version": "m1", "hostname": "pod-a"}},
		{name: "predict GET", method: "GET", target: "/predict?input=hello", wantCode: 200,
			wantJSON: map[string]any{"version": "v1", "model_version": "m1", "prediction": score([]byte("hello"))}},
		{name: "predict POST", method: "POST", target: "/predict", body: `{"features":[1,2,3]}`, wantCode: 200,
			wantJSON: map[string]any{"version": "v1", "model_version": "m1", "prediction": score([]byte(`{"features":[1,2,3]}`))},
			wantLog:  "POST /predict 200"},
		{name: "prestop", method: "GET", target: "/prestop", wantCode: 200, wantBody: "ok", wantLog: "preStop hook called"},
		{name: "crash", method: "GET", target: "/crash", wantCode: 200, wantCrash: true, wantLog: "crashing on request"},
		{name: "unknown path", method: "GET", target: "/nope", wantCode: 404, wantLog: "GET /nope 404"},
		{name: "health does not take POST", method: "POST", target: "/health", wantCode: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, out, crashes := newTestServer(now, tt.readyAt)
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			rec := httptest.NewRecorder()
			s.handler().ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Errorf("status %d, want %d (body %q)", rec.Code, tt.wantCode, rec.Body.String())
			}
			if by := rec.Header().Get("X-Served-By"); by != "pod-a" {
				t.Errorf("X-Served-By %q, want the pod's hostname pod-a", by)
			}
			if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
				t.Errorf("body %q, want %q", rec.Body.String(), tt.wantBody)
			}
			if tt.wantJSON != nil {
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q, want application/json", ct)
				}
				var got map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Fatalf("body %q: %v", rec.Body.String(), err)
				}
				for k, want := range tt.wantJSON {
					if got[k] != want {
						t.Errorf("%s = %v, want %v (body %s)", k, got[k], want, rec.Body.String())
					}
				}
			}
			if tt.wantLog != "" && !strings.Contains(out.String(), tt.wantLog) {
				t.Errorf("output %q lacks %q", out.String(), tt.wantLog)
			}
			if (*crashes == 1) != tt.wantCrash {
				t.Errorf("crash called %d times, want crash %v", *crashes, tt.wantCrash)
			}
		})
	}
}

// TestRequestLogHasNoTimestamp checks the shape of a request's log line: the
// container runtime's log adds the time, the server must not.
func TestRequestLogHasNoTimestamp(t *testing.T) {
	s, out, _ := newTestServer(time.Now(), time.Time{})
	s.handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/health", nil))
	line := strings.TrimSuffix(out.String(), "\n")
	if strings.Contains(line, "\n") {
		t.Fatalf("one request printed several lines: %q", out.String())
	}
	if !regexp.MustCompile(`^GET /health 200 \S+ \S+$`).MatchString(line) {
		t.Errorf("log line %q, want \"GET /health 200 DURATION REMOTE\"", line)
	}
	if regexp.MustCompile(`\d{4}[-/]\d{2}[-/]\d{2}|\d{2}:\d{2}:\d{2}`).MatchString(line) {
		t.Errorf("log line %q carries a timestamp", line)
	}
}

func TestScore(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"same input", "abc", "abc", true},
		{"JSON whitespace and key order", `{"a": 1, "b": [1, 2]}`, "{\"b\":[1,2],\n\"a\":1}", true},
		{"surrounding space", " hello\n", "hello", true},
		{"different inputs", `{"features":[1,2,3]}`, `{"features":[1,2,4]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := score([]byte(tt.a)), score([]byte(tt.b))
			if (a == b) != tt.same {
				t.Errorf("score(%q) = %v, score(%q) = %v, want same=%v", tt.a, a, tt.b, b, tt.same)
			}
			if a < 0 || a >= 1 {
				t.Errorf("score(%q) = %v, want within [0, 1)", tt.a, a)
			}
		})
	}
}

func TestPredictRejectsHugeBody(t *testing.T) {
	s, _, _ := newTestServer(time.Now(), time.Time{})
	rec := httptest.NewRecorder()
	s.handler().ServeHTTP(rec, httptest.NewRequest("POST", "/predict", strings.NewReader(strings.Repeat("x", maxInputBytes+1))))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", rec.Code)
	}
}
