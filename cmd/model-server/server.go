package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"sync"
	"time"
)

// maxInputBytes bounds the request body /predict reads.
const maxInputBytes = 1 << 20

// server holds the HTTP handlers of the model server.
type server struct {
	version      string
	modelVersion string
	hostname     string
	readyAt      time.Time        // /health answers 503 before this instant
	now          func() time.Time // clock, injected by tests
	crash        func()           // what GET /crash does (exit 1 in the program)

	mu  sync.Mutex // serialises writes to out
	out io.Writer  // request log, one line per request
}

// printf writes one line to the server's output; lines carry no timestamp
// because the container runtime's log adds one.
func (s *server) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.out, format+"\n", args...)
}

// handler returns the model server's routes wrapped in the request log.
func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /predict", s.predict)
	mux.HandleFunc("POST /predict", s.predict)
	mux.HandleFunc("GET /prestop", s.prestop)
	mux.HandleFunc("GET /crash", s.crashNow)
	mux.HandleFunc("GET /{$}", s.info)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		// Which pod answered: clients behind a Service count these.
		w.Header().Set("X-Served-By", s.hostname)
		start := s.now()
		mux.ServeHTTP(rec, r)
		s.printf("%s %s %d %s %s", r.Method, r.URL.RequestURI(), rec.status, s.now().Sub(start).Round(time.Microsecond), r.RemoteAddr)
	})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *server) health(w http.ResponseWriter, _ *http.Request) {
	if s.now().Before(s.readyAt) {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok")
}

func (s *server) info(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"version":       s.version,
		"model_version": s.modelVersion,
		"hostname":      s.hostname,
	})
}

// predictResponse is the body of GET|POST /predict.
type predictResponse struct {
	Version      string  `json:"version"`
	ModelVersion string  `json:"model_version"`
	Prediction   float64 `json:"prediction"`
}

// predict answers with a score in [0, 1) that depends only on the input:
// the request body for POST, the "input" query parameter for GET.
func (s *server) predict(w http.ResponseWriter, r *http.Request) {
	var input []byte
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxInputBytes+1))
		if err != nil {
			http.Error(w, fmt.Sprintf("reading the request body: %v", err), http.StatusBadRequest)
			return
		}
		if len(body) > maxInputBytes {
			http.Error(w, "request body over 1 MiB", http.StatusRequestEntityTooLarge)
			return
		}
		input = body
	} else {
		input = []byte(r.URL.Query().Get("input"))
	}
	writeJSON(w, http.StatusOK, predictResponse{
		Version:      s.version,
		ModelVersion: s.modelVersion,
		Prediction:   score(input),
	})
}

// score maps an input to a number in [0, 1) with 4 decimals. JSON inputs are
// compared by value, so whitespace and key order do not change the score.
func score(input []byte) float64 {
	input = bytes.TrimSpace(input)
	var v any
	if json.Unmarshal(input, &v) == nil {
		if canon, err := json.Marshal(v); err == nil { // maps marshal with sorted keys
			input = canon
		}
	}
	h := fnv.New64a()
	h.Write(input)
	return float64(h.Sum64()%10000) / 10000
}

func (s *server) prestop(w http.ResponseWriter, _ *http.Request) {
	s.printf("preStop hook called")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok")
}

func (s *server) crashNow(http.ResponseWriter, *http.Request) {
	s.printf("crashing on request")
	s.crash()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
