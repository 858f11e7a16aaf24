package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

// Config says what to load.
type Config struct {
	URLs []string
	// Rate is the requests per second sent to each URL.
	Rate int
	// Timeout bounds each request.
	Timeout time.Duration
}

// Report is what loadgen prints.
type Report struct {
	Results []Result `json:"results"`
}

// Result counts the requests to one URL.
type Result struct {
	URL    string `json:"url"`
	OK     int    `json:"ok"`
	Failed int    `json:"failed"`
	// Failures counts the failed requests by kind: "status 503",
	// "reset", "eof", "refused", "timeout", "other".
	Failures  map[string]int `json:"failures,omitempty"`
	LastError string         `json:"lastError,omitempty"`
	// ServedBy counts the answers by the model server's X-Served-By.
	ServedBy map[string]int `json:"servedBy,omitempty"`
}

// Run sends the requests until ctx ends, waits for those in flight and
// reports.
func Run(ctx context.Context, cfg Config) Report {
	rep := Report{Results: make([]Result, len(cfg.URLs))}
	var wg sync.WaitGroup
	for i, u := range cfg.URLs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.Results[i] = load(ctx, u, cfg)
		}()
	}
	wg.Wait()
	return rep
}

// load sends GET url at cfg.Rate until ctx ends.
func load(ctx context.Context, url string, cfg Config) Result {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout}
	res := Result{URL: url, Failures: map[string]int{}, ServedBy: map[string]int{}}
	var mu sync.Mutex
	var inflight sync.WaitGroup
	// The schedule is kept even when ticks are late (a busy machine): each
	// tick sends what is due since the start.
	tick := time.NewTicker(time.Second / time.Duration(cfg.Rate))
	defer tick.Stop()
	start, sent := time.Now(), 0
	for {
		select {
		case <-ctx.Done():
			inflight.Wait()
			return res
		case <-tick.C:
		}
		if ctx.Err() != nil {
			continue
		}
		due := int(time.Since(start)*time.Duration(cfg.Rate)/time.Second) - sent
		for range due {
			sent++
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				by, err := get(client, url)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					res.Failed++
					res.Failures[kindOf(err)]++
					res.LastError = err.Error()
					return
				}
				res.OK++
				if by != "" {
					res.ServedBy[by]++
				}
			}()
		}
	}
}

// statusError is a non-2xx answer.
type statusError struct{ code int }

func (e statusError) Error() string { return fmt.Sprintf("status %d", e.code) }

// get does one request, reading the whole body so that the connection is
// reused; it returns who served it.
func get(client *http.Client, url string) (string, error) {
	// Not tied to the run's context: a request sent is seen to its end.
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return "", fmt.Errorf("reading the body: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", statusError{resp.StatusCode}
	}
	return resp.Header.Get("X-Served-By"), nil
}

// kindOf names the kind of a failure.
func kindOf(err error) string {
	var se statusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other"
}
