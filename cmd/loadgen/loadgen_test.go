package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRunCountsPerURL(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Served-By", "pod-a")
		_, _ = w.Write([]byte(`{"prediction":1}`))
	}))
	defer ok.Close()
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer unavailable.Close()
	// A server that drops every connection at once, as a killed pod does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST
			}
			_ = c.Close()
		}
	}()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-rate", "200", "-duration", "300ms", "-timeout", "1s",
		ok.URL + "/predict", unavailable.URL + "/predict", "http://" + ln.Addr().String() + "/predict"}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d with failed requests, want 1 (stderr %q)", code, errOut.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if len(rep.Results) != 3 {
		t.Fatalf("%d results, want 3: %+v", len(rep.Results), rep)
	}
	good, bad, dropped := rep.Results[0], rep.Results[1], rep.Results[2]
	// 200/s for 300ms is 60 requests; allow for a slow machine.
	if good.OK < 45 || good.Failed != 0 || good.ServedBy["pod-a"] != good.OK {
		t.Errorf("healthy URL: %+v, want about 60 ok, none failed, all served by pod-a", good)
	}
	if bad.OK != 0 || bad.Failed < 45 || bad.Failures["status 503"] == 0 {
		t.Errorf("503 URL: %+v, want every request failed, with status 503", bad)
	}
	if dropped.OK != 0 || dropped.Failed < 45 || dropped.LastError == "" {
		t.Errorf("dropping URL: %+v, want every request failed", dropped)
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Report)
	go func() { done <- Run(ctx, Config{URLs: []string{srv.URL}, Rate: 200, Timeout: time.Second}) }()
	time.Sleep(100 * time.Millisecond) // let some requests go out
	cancel()
	select {
	case rep := <-done:
		if rep.Results[0].OK == 0 || rep.Results[0].Failed != 0 {
			t.Fatalf("got %+v, want some ok and none failed", rep.Results[0])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), nil, &out, &errOut); code != 2 {
		t.Fatalf("no URL: exit %d, want 2", code)
	}
}
