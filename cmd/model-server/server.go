package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
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

// handler returns the model server's routes wrapped in the request log and
// the request metrics (served on /metrics).
func (s *server) handler() http.Handler {
	metrics := newRequestMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /predict", s.predict)
	mux.HandleFunc("POST /predict", s.predict)
	mux.HandleFunc("GET /prestop", s.prestop)
	mux.HandleFunc("GET /crash", s.crashNow)
	mux.HandleFunc("GET /burn", s.burn)
	mux.Handle("GET /metrics", metrics.handler())
	mux.HandleFunc("GET /{$}", s.info)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		// Which pod answered: clients behind a Service count these.
		w.Header().Set("X-Served-By", s.hostname)
		start := s.now()
		mux.ServeHTTP(rec, r)
		took := s.now().Sub(start)
		metrics.observe(r, rec.status, took)
		s.printf("%s %s %d %s %s", r.Method, r.URL.RequestURI(), rec.status, took.Round(time.Microsecond), r.RemoteAddr)
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

// maxBurn bounds the CPU time one /burn request spends.
const maxBurn = 10 * time.Second

// burnResponse is the body of GET /burn.
type burnResponse struct {
	BurnedMS int64 `json:"burned_ms"`
}

// burn spends the "ms" query parameter's milliseconds of CPU time (default
// 100, at most 10 s) on one thread before answering, so that load sent to it
// shows as CPU usage (for a HorizontalPodAutoscaler on CPU).
func (s *server) burn(w http.ResponseWriter, r *http.Request) {
	ms := int64(100)
	if v := r.URL.Query().Get("ms"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || time.Duration(n)*time.Millisecond > maxBurn {
			http.Error(w, fmt.Sprintf("ms: %q is not a whole number of milliseconds from 0 to %d", v, maxBurn.Milliseconds()), http.StatusBadRequest)
			return
		}
		ms = n
	}
	spin(time.Duration(ms) * time.Millisecond)
	writeJSON(w, http.StatusOK, burnResponse{BurnedMS: ms})
}

// spin computes until its thread has used d of CPU time (however long that
// takes on a busy machine).
func spin(d time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, ok := threadCPU()
	if !ok {
		// No per-thread clock: fall back to wall time.
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			work()
		}
		return
	}
	for {
		work()
		if now, _ := threadCPU(); now-start >= d {
			return
		}
	}
}

// work is a few microseconds of arithmetic.
func work() {
	x := uint64(1)
	for range 2000 {
		x = x*6364136223846793005 + 1442695040888963407
	}
	runtime.KeepAlive(x) // the work is not dropped as unused
}

// threadCPU is the CPU time the calling OS thread has used.
func threadCPU() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
