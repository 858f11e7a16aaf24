package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCurl(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    curlOptions
		wantErr string
	}{
		{
			name: "netexec dial, as the networking tests run it",
			args: []string{"-g", "-q", "-s", "http://10.0.0.1:8083/dial?request=hostname&protocol=http&host=10.0.0.2&port=8083&tries=1"},
			want: curlOptions{URL: "http://10.0.0.1:8083/dial?request=hostname&protocol=http&host=10.0.0.2&port=8083&tries=1", Silent: true, Method: "GET"},
		},
		{
			name: "status code only, no scheme",
			args: []string{"-g", "-q", "-s", "-o", "/dev/null", "-w", "%{http_code}", "10.0.0.1:80/healthz"},
			want: curlOptions{URL: "http://10.0.0.1:80/healthz", Silent: true, Output: "/dev/null", WriteOut: "%{http_code}", Method: "GET"},
		},
		{
			name: "timeouts, include and interface",
			args: []string{"-i", "-q", "-s", "--max-time", "15", "--connect-timeout", "0.5", "--interface", "10.0.0.9", "http://x/hostName"},
			want: curlOptions{URL: "http://x/hostName", Silent: true, Include: true, MaxTime: 15 * time.Second, ConnectTimeout: 500 * time.Millisecond, Interface: "10.0.0.9", Method: "GET"},
		},
		{
			name: "combined short flags and a POST",
			args: []string{"-qsSf", "-X", "PUT", "-H", "A: b", "-d", "x=1", "http://x/"},
			want: curlOptions{URL: "http://x/", Silent: true, ShowError: true, Fail: true, Method: "PUT", Headers: []string{"A: b"}, Data: "x=1"},
		},
		{name: "unknown option", args: []string{"-k", "http://x/"}, wantErr: "option -k: is unknown"},
		{name: "missing value", args: []string{"http://x/", "--max-time"}, wantErr: "option --max-time: requires parameter"},
		{name: "bad number", args: []string{"--connect-timeout", "soon", "http://x/"}, wantErr: "expected a proper numerical parameter"},
		{name: "no URL", args: []string{"-s"}, wantErr: "no URL specified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCurl(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseCurl(%q) error = %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseCurl(%q) =\n%+v, want\n%+v", tt.args, got, tt.want)
			}
		})
	}
}

// closedPort returns a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestCurl(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hostname":
			fmt.Fprint(w, "pod-a")
		case "/slow":
			time.Sleep(2 * time.Second)
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s", r.Method, b)
		default:
			http.Error(w, "nope", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	out := filepath.Join(t.TempDir(), "body")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "body", args: []string{"-g", "-q", "-s", srv.URL + "/hostname"}, wantStdout: "pod-a"},
		{name: "no scheme", args: []string{"-s", host + "/hostname"}, wantStdout: "pod-a"},
		{name: "status code to stdout, body elsewhere", args: []string{"-s", "-o", "/dev/null", "-w", "%{http_code}", srv.URL + "/missing"}, wantStdout: "404"},
		{name: "body to a file", args: []string{"-s", "-o", out, "-w", `%{http_code}\n`, srv.URL + "/hostname"}, wantStdout: "200\n"},
		{name: "HTTP error is not a failure without -f", args: []string{"-s", srv.URL + "/missing"}, wantStdout: "nope\n"},
		{name: "-f fails on HTTP errors", args: []string{"-sf", srv.URL + "/missing"}, wantCode: 22, wantStdout: "nope\n"},
		{name: "POST data", args: []string{"-s", "-d", "a=1", srv.URL + "/echo"}, wantStdout: "POST a=1"},
		{name: "connection refused", args: []string{"-s", "-w", "%{http_code}", "http://" + closedPort(t) + "/"}, wantCode: curlCantConnect, wantStdout: "000"},
		{name: "refused, not silent", args: []string{"http://" + closedPort(t) + "/"}, wantCode: curlCantConnect, wantStderr: "curl: (7)"},
		{name: "max time", args: []string{"-s", "--max-time", "0.2", srv.URL + "/slow"}, wantCode: curlTimeout},
		{name: "unknown option", args: []string{"--compressed", srv.URL}, wantCode: curlUsage, wantStderr: "option --compressed: is unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), "curl", tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if stdout.String() != tt.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
	if b, _ := os.ReadFile(out); string(b) != "pod-a" {
		t.Errorf("-o file holds %q, want pod-a", b)
	}

	var stdout bytes.Buffer
	if code := run(context.Background(), "curl", []string{"-i", "-s", srv.URL + "/hostname"}, nil, &stdout, io.Discard); code != 0 {
		t.Fatalf("curl -i exit %d", code)
	}
	if got := stdout.String(); !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(got, "\r\n\r\npod-a") {
		t.Errorf("curl -i printed %q, want the status line, headers, a blank line and the body", got)
	}
}
