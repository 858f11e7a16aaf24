package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeTar writes a tarball of the given files, gzip-compressed if asked.
func writeTar(t *testing.T, files map[string]string, compress bool) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
		tw.Write([]byte(content))
	}
	tw.Close()
	data := buf.Bytes()
	if compress {
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		w.Write(data)
		w.Close()
		data = gz.Bytes()
	}
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTags(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		compress bool
		want     []string
		wantErr  string
	}{
		{
			name:  "docker-archive with two images",
			files: map[string]string{"manifest.json": `[{"Config":"c1","RepoTags":["localhost/a:v1","localhost/a:latest"],"Layers":[]},{"Config":"c2","RepoTags":["localhost/b:v2"],"Layers":[]}]`},
			want:  []string{"localhost/a:v1", "localhost/a:latest", "localhost/b:v2"},
		},
		{
			name:     "gzip-compressed docker-archive",
			files:    map[string]string{"./manifest.json": `[{"Config":"c1","RepoTags":["localhost/a:v1"],"Layers":[]}]`},
			compress: true,
			want:     []string{"localhost/a:v1"},
		},
		{
			name: "OCI layout",
			files: map[string]string{
				"oci-layout": `{"imageLayoutVersion":"1.0.0"}`,
				"index.json": `{"schemaVersion":2,"manifests":[{"digest":"sha256:1","annotations":{"io.containerd.image.name":"docker.io/library/busybox:1.36","org.opencontainers.image.ref.name":"1.36"}},{"digest":"sha256:2","annotations":{"org.opencontainers.image.ref.name":"localhost/c:v3"}}]}`,
			},
			want: []string{"docker.io/library/busybox:1.36", "localhost/c:v3"},
		},
		{
			name:    "untagged docker-archive",
			files:   map[string]string{"manifest.json": `[{"Config":"c1","Layers":[]}]`},
			wantErr: ErrNoTags.Error(),
		},
		{
			name:    "not an image",
			files:   map[string]string{"hello.txt": "hi"},
			wantErr: "neither a docker-archive",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Tags(writeTar(t, tt.files, tt.compress))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Tags = %q, want %q", got, tt.want)
			}
		})
	}
	text := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(text, []byte("hello"), 0o644)
	if _, err := Tags(text); err == nil || !strings.Contains(err.Error(), "notes.txt: not an image tarball") {
		t.Errorf("text file: error %v, want \"not an image tarball\"", err)
	}
	if _, err := Tags(filepath.Join(t.TempDir(), "missing.tar")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: error %v, want one wrapping ErrNotExist", err)
	}
}
