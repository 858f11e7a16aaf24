// Command model-server is the in-repo model server that skiff's examples and
// end-to-end tests run in containers: a small HTTP service answering
// /health, /predict and /, its Prometheus metrics on /metrics
// (http_requests_total, http_request_duration_seconds), /burn?ms=N that
// spends N ms of CPU per request (for autoscaling on CPU), plus fault switches (memory allocation, exit after
// a delay, ignoring SIGTERM, /crash) that the tests use to exercise restarts,
// OOM kills and graceful termination.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// version is stamped at build time with -ldflags "-X main.version=v1".
var version = "dev"

// config is what the flags say.
type config struct {
	port          int
	readyAfter    time.Duration
	allocMB       int
	exitAfter     time.Duration
	exitCode      int
	exitSet       bool // --exit-after or --exit-code was given
	ignoreSIGTERM bool
	shutdownGrace time.Duration
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(run(cfg, os.Stdout))
}

// parseFlags reads the flags; each falls back to an environment variable
// (PORT, READY_AFTER, ALLOC_MB, EXIT_AFTER, EXIT_CODE, IGNORE_SIGTERM).
func parseFlags(args []string, getenv func(string) string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("model-server", flag.ContinueOnError)
	envInt := func(name string, def int) int {
		if n, err := strconv.Atoi(getenv(name)); err == nil {
			return n
		}
		return def
	}
	envDuration := func(name string) time.Duration {
		d, _ := time.ParseDuration(getenv(name))
		return d
	}
	envBool, _ := strconv.ParseBool(getenv("IGNORE_SIGTERM"))
	fs.IntVar(&cfg.port, "port", envInt("PORT", 8000), "port to listen on (env PORT)")
	fs.DurationVar(&cfg.readyAfter, "ready-after", envDuration("READY_AFTER"), "answer 503 on /health until this long after start (env READY_AFTER)")
	fs.IntVar(&cfg.allocMB, "alloc-mb", envInt("ALLOC_MB", 0), "allocate and touch this many MiB at start, then keep serving (env ALLOC_MB)")
	fs.DurationVar(&cfg.exitAfter, "exit-after", envDuration("EXIT_AFTER"), "exit with --exit-code this long after start (env EXIT_AFTER)")
	fs.IntVar(&cfg.exitCode, "exit-code", envInt("EXIT_CODE", 0), "exit status for --exit-after; given alone, exit at once with it (env EXIT_CODE)")
	fs.BoolVar(&cfg.ignoreSIGTERM, "ignore-sigterm", envBool, "print a line on SIGTERM and keep serving (env IGNORE_SIGTERM)")
	fs.DurationVar(&cfg.shutdownGrace, "shutdown-grace", 20*time.Second, "how long a graceful shutdown waits for requests in flight")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.exitSet = cfg.exitAfter > 0 || getenv("EXIT_CODE") != ""
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "exit-after" || f.Name == "exit-code" {
			cfg.exitSet = true
		}
	})
	return cfg, nil
}

// run serves until a signal or a fault switch ends it and returns the exit
// status.
func run(cfg config, out io.Writer) int {
	start := time.Now()
	hostname, _ := os.Hostname()
	exitNow := make(chan int, 1)
	s := &server{
		version:      version,
		modelVersion: os.Getenv("MODEL_VERSION"),
		hostname:     hostname,
		readyAt:      start.Add(cfg.readyAfter),
		now:          time.Now,
		crash:        func() { os.Exit(1) },
		out:          out,
	}

	var ballast []byte
	if cfg.allocMB > 0 {
		ballast = allocate(cfg.allocMB)
		s.printf("allocated %d MiB", cfg.allocMB)
	}
	defer runtime.KeepAlive(ballast) // the memory stays allocated while serving
	if cfg.exitSet {
		time.AfterFunc(cfg.exitAfter, func() { exitNow <- cfg.exitCode })
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, os.Interrupt)

	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.port))
	if err != nil {
		s.printf("listen: %v", err)
		return 1
	}
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.printf("model-server %s listening on :%d", version, cfg.port)

	for {
		select {
		case code := <-exitNow:
			s.printf("exiting with code %d", code)
			return code
		case err := <-served:
			s.printf("serve: %v", err)
			return 1
		case sig := <-signals:
			if sig == syscall.SIGTERM && cfg.ignoreSIGTERM {
				s.printf("SIGTERM received, ignoring")
				continue
			}
			name := "SIGTERM"
			if sig != syscall.SIGTERM {
				name = "SIGINT"
			}
			s.printf("%s received, shutting down", name)
			ctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
			err := srv.Shutdown(ctx)
			cancel()
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.printf("shutdown: %v", err)
			}
			return 0
		}
	}
}

// allocate returns n MiB with every page written, so that the memory is
// resident and counts against the container's memory limit.
func allocate(n int) []byte {
	b := make([]byte, n<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b
}
