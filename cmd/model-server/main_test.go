package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the tests run the program itself: with MODEL_SERVER_MAIN=1
// the test binary is the model server.
func TestMain(m *testing.M) {
	if os.Getenv("MODEL_SERVER_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want config
	}{
		{name: "defaults", want: config{port: 8000, shutdownGrace: 20 * time.Second}},
		{name: "flags", args: []string{"--port", "9000", "--ready-after", "2s", "--alloc-mb", "64", "--ignore-sigterm"},
			want: config{port: 9000, readyAfter: 2 * time.Second, allocMB: 64, ignoreSIGTERM: true, shutdownGrace: 20 * time.Second}},
		{name: "env fallbacks", env: map[string]string{"PORT": "8080", "EXIT_AFTER": "3s", "EXIT_CODE": "2", "IGNORE_SIGTERM": "true"},
			want: config{port: 8080, exitAfter: 3 * time.Second, exitCode: 2, exitSet: true, ignoreSIGTERM: true, shutdownGrace: 20 * time.Second}},
		{name: "flag beats env", args: []string{"--port=1234"}, env: map[string]string{"PORT": "8080"},
			want: config{port: 1234, shutdownGrace: 20 * time.Second}},
		{name: "exit code alone exits at once", args: []string{"--exit-code", "0"},
			want: config{port: 8000, exitSet: true, shutdownGrace: 20 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := parseFlags([]string{"extra"}, func(string) string { return "" }); err == nil {
		t.Error("a positional argument was accepted")
	}
}

// program is the model server running as a child process.
type program struct {
	cmd   *exec.Cmd
	lines chan string
	port  int
}

func startProgram(t *testing.T, args ...string) *program {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(os.Args[0], append([]string{"--port", fmt.Sprint(port)}, args...)...)
	cmd.Env = append(os.Environ(), "MODEL_SERVER_MAIN=1", "MODEL_VERSION=m7")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	p := &program{cmd: cmd, lines: make(chan string, 100), port: port}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p
}

// expect waits for a line that contains want.
func (p *program) expect(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("output ended before %q", want)
			}
			if strings.Contains(line, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no line with %q in 10s", want)
		}
	}
}

// exitCode waits for the program to end and returns its status.
func (p *program) exitCode(t *testing.T) int {
	t.Helper()
	for range p.lines { // drain so the child never blocks on a full pipe
	}
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func TestProgram(t *testing.T) {
	t.Run("serves and shuts down on SIGTERM", func(t *testing.T) {
		p := startProgram(t)
		p.expect(t, fmt.Sprintf("model-server dev listening on :%d", p.port))
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", p.port))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `"model_version":"m7"`) {
			t.Errorf("GET / = %s, want model_version m7 from $MODEL_VERSION", body)
		}
		p.expect(t, "GET / 200")
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.expect(t, "SIGTERM received, shutting down")
		if code := p.exitCode(t); code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
	})
	t.Run("ignores SIGTERM", func(t *testing.T) {
		p := startProgram(t, "--ignore-sigterm")
		p.expect(t, "listening on")
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.expect(t, "SIGTERM received, ignoring")
		if _, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", p.port)); err != nil {
			t.Errorf("not serving after an ignored SIGTERM: %v", err)
		}
	})
	t.Run("exit after a delay with a code", func(t *testing.T) {
		p := startProgram(t, "--exit-after", "200ms", "--exit-code", "3", "--alloc-mb", "8")
		p.expect(t, "allocated 8 MiB")
		p.expect(t, "exiting with code 3")
		if code := p.exitCode(t); code != 3 {
			t.Errorf("exit code %d, want 3", code)
		}
	})
	t.Run("crash", func(t *testing.T) {
		p := startProgram(t)
		p.expect(t, "listening on")
		http.Get(fmt.Sprintf("http://127.0.0.1:%d/crash", p.port))
		if code := p.exitCode(t); code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
	})
}
