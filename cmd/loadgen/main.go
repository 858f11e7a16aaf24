// Command loadgen sends GET requests at a fixed rate to one or more URLs
// over keep-alive connections until it is stopped (SIGINT, SIGTERM or
// -duration), then prints, as one JSON object, how many requests to each
// URL succeeded and how many failed (a non-2xx status, a reset or closed
// connection, a timeout). The zero-drop rollout test runs it through a
// Service's ClusterIP, NodePort and LoadBalancer address at once.
//
//	loadgen [-rate 200] [-timeout 2s] [-duration 0] URL...
//
// It exits 1 when a request failed, 2 on bad usage. Like every HTTP
// client, Go's retries a GET that found its idle keep-alive connection
// closed by the server before any of it was sent; that is not a failure.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	var duration time.Duration
	fs.IntVar(&cfg.Rate, "rate", 200, "requests per second to each URL")
	fs.DurationVar(&cfg.Timeout, "timeout", 2*time.Second, "a request that takes longer fails")
	fs.DurationVar(&duration, "duration", 0, "stop after this long (0: at SIGINT or SIGTERM)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.URLs = fs.Args()
	if len(cfg.URLs) == 0 || cfg.Rate <= 0 {
		fmt.Fprintln(stderr, "usage: loadgen [-rate N] [-timeout D] [-duration D] URL...")
		return 2
	}
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	rep := Run(ctx, cfg)
	if err := json.NewEncoder(stdout).Encode(rep); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, r := range rep.Results {
		if r.Failed > 0 {
			return 1
		}
	}
	return 0
}
