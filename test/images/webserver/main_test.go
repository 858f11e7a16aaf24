package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestServe(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "index.html"), []byte("Welcome to nginx!\n"), 0o644)
	os.WriteFile(filepath.Join(root, "data.json"), []byte(`{"image": "nautilus.jpg"}`), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, root) }()
	base := "http://" + ln.Addr().String()

	tests := []struct {
		path     string
		wantCode int
		wantBody string
	}{
		{path: "/", wantCode: 200, wantBody: "Welcome to nginx!\n"},
		{path: "/data.json", wantCode: 200, wantBody: `{"image": "nautilus.jpg"}`},
		{path: "/missing", wantCode: 404, wantBody: "404 page not found\n"},
	}
	for _, tt := range tests {
		resp, err := http.Get(base + tt.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tt.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantCode || string(body) != tt.wantBody {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, resp.StatusCode, body, tt.wantCode, tt.wantBody)
		}
		if s := resp.Header.Get("Server"); s != "nginx (skiff e2e substitute)" {
			t.Errorf("GET %s: Server %q", tt.path, s)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after a stop signal = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after its context ended")
	}
	if _, err := http.Get(base + "/"); err == nil {
		t.Error("the server still answers after stopping")
	}
}
