package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"skiff.dev/skiff/internal/image"
)

// listenUnix makes a socket at path, as a running containerd would.
func listenUnix(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
}

func TestImageLoad(t *testing.T) {
	// Short paths: a unix socket path has at most 107 bytes.
	dir, err := os.MkdirTemp("", "skiff-img")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "bin")
	os.WriteFile(bin, []byte("x"), 0o755)
	pause := filepath.Join(dir, "pause.tar")
	model := filepath.Join(dir, "model.tar")
	for file, tag := range map[string]string{pause: "localhost/skiff/pause:3.10", model: "busybox:1.36"} {
		if err := image.Build(image.Spec{Tag: tag, Files: map[string]image.File{"/x": {Source: bin}}, Output: file}); err != nil {
			t.Fatal(err)
		}
	}
	notImage := filepath.Join(dir, "notes.txt")
	os.WriteFile(notImage, []byte("hello"), 0o644)

	agentDir := filepath.Join(dir, "agent1")
	listenUnix(t, filepath.Join(agentDir, "containerd", "containerd.sock"))
	serverDir := filepath.Join(dir, "server")
	listenUnix(t, filepath.Join(serverDir, "agent", "containerd", "containerd.sock"))
	processDir := filepath.Join(dir, "process-node")
	os.MkdirAll(filepath.Join(processDir, "process"), 0o755)

	type call struct{ socket, file string }
	tests := []struct {
		name      string
		dataDir   string
		criSocket string
		files     []string
		importErr error
		wantCalls []call
		wantOut   string
		wantErr   string
	}{
		{
			name: "agent data dir", dataDir: agentDir, files: []string{pause, model},
			wantCalls: []call{{filepath.Join(agentDir, "containerd", "containerd.sock"), pause}, {filepath.Join(agentDir, "containerd", "containerd.sock"), model}},
			wantOut:   "loaded localhost/skiff/pause:3.10\nloaded docker.io/library/busybox:1.36\n",
		},
		{
			name: "server data dir", dataDir: serverDir, files: []string{pause},
			wantCalls: []call{{filepath.Join(serverDir, "agent", "containerd", "containerd.sock"), pause}},
			wantOut:   "loaded localhost/skiff/pause:3.10\n",
		},
		{
			name: "explicit socket", dataDir: processDir, criSocket: "/run/containerd/containerd.sock", files: []string{pause},
			wantCalls: []call{{"/run/containerd/containerd.sock", pause}},
			wantOut:   "loaded localhost/skiff/pause:3.10\n",
		},
		{
			name: "process runtime", dataDir: processDir, files: []string{pause},
			wantErr: "the process runtime has no image store; images are used by --runtime=cri",
		},
		{
			name: "not an image: nothing imported", dataDir: agentDir, files: []string{pause, notImage},
			wantErr: "notes.txt: not an image tarball",
		},
		{
			name: "import fails", dataDir: agentDir, files: []string{pause}, importErr: errors.New("ctr: connection refused"),
			wantCalls: []call{{filepath.Join(agentDir, "containerd", "containerd.sock"), pause}},
			wantErr:   "connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []call
			fake := func(_ context.Context, socket string, files ...string) error {
				for _, f := range files {
					calls = append(calls, call{socket, f})
				}
				return tt.importErr
			}
			var out bytes.Buffer
			err := loadImages(context.Background(), &out, tt.dataDir, tt.criSocket, tt.files, fake)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(calls, tt.wantCalls) {
				t.Errorf("imports %v, want %v", calls, tt.wantCalls)
			}
			if out.String() != tt.wantOut {
				t.Errorf("output %q, want %q", out.String(), tt.wantOut)
			}
		})
	}
}
