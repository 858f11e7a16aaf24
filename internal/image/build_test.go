package image

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is what a test sees of one layer entry.
type entry struct {
	typ     byte
	mode    int64
	link    string
	content string
}

// readImage loads a built tarball by tag and returns its config and layer.
func readImage(t *testing.T, file, tag string) (cfg map[string]any, entries map[string]entry, order []string) {
	t.Helper()
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(file, &ref)
	if err != nil {
		t.Fatalf("reading %s back as %s: %v", file, tag, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture == "" {
		t.Errorf("os/arch %s/%s, want linux/GOARCH", cf.OS, cf.Architecture)
	}
	cfg = map[string]any{
		"Entrypoint":   cf.Config.Entrypoint,
		"Cmd":          cf.Config.Cmd,
		"Env":          cf.Config.Env,
		"WorkingDir":   cf.Config.WorkingDir,
		"ExposedPorts": cf.Config.ExposedPorts,
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	entries = map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.ModTime.Unix() != 0 {
			t.Errorf("%s: owner %d:%d, mtime %v, want 0:0 at the epoch", hdr.Name, hdr.Uid, hdr.Gid, hdr.ModTime)
		}
		entries[hdr.Name] = entry{typ: hdr.Typeflag, mode: hdr.Mode, link: hdr.Linkname, content: string(b)}
		order = append(order, hdr.Name)
	}
	return cfg, entries, order
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "server")
	if err := os.WriteFile(bin, []byte("#!binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "conf")
	if err := os.WriteFile(conf, []byte("a=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		spec        Spec
		wantConfig  map[string]any
		wantEntries map[string]entry
	}{
		{
			name: "static binary with busybox-style links",
			spec: Spec{
				Tag: "localhost/skiff/model-server:v1",
				Files: map[string]File{
					"/model-server": {Source: bin, Mode: 0o755},
					"/bin/busybox":  {Source: bin, Mode: 0o755},
					"/bin/sh":       Symlink("busybox"),
					"/tmp":          Dir(0o777 | fs.ModeSticky),
					"/etc/app/conf": {Source: conf},
					"/etc/passwd":   {Content: []byte("root:x:0:0::/:/bin/sh\n")},
					"/etc/empty":    {Content: []byte{}},
				},
				Entrypoint:   []string{"/model-server"},
				Cmd:          []string{"--port", "8000"},
				Env:          []string{"PATH=/bin"},
				WorkingDir:   "/",
				ExposedPorts: []string{"8000/tcp", "9090"},
			},
			wantConfig: map[string]any{
				"Entrypoint":   []string{"/model-server"},
				"Cmd":          []string{"--port", "8000"},
				"Env":          []string{"PATH=/bin"},
				"WorkingDir":   "/",
				"ExposedPorts": map[string]struct{}{"8000/tcp": {}, "9090/tcp": {}},
			},
			wantEntries: map[string]entry{
				"bin/":         {typ: tar.TypeDir, mode: 0o755},
				"bin/busybox":  {typ: tar.TypeReg, mode: 0o755, content: "#!binary"},
				"bin/sh":       {typ: tar.TypeSymlink, mode: 0o777, link: "busybox"},
				"etc/":         {typ: tar.TypeDir, mode: 0o755},
				"etc/app/":     {typ: tar.TypeDir, mode: 0o755},
				"etc/app/conf": {typ: tar.TypeReg, mode: 0o644, content: "a=1\n"},
				"etc/empty":    {typ: tar.TypeReg, mode: 0o644},
				"etc/passwd":   {typ: tar.TypeReg, mode: 0o644, content: "root:x:0:0::/:/bin/sh\n"},
				"model-server": {typ: tar.TypeReg, mode: 0o755, content: "#!binary"},
				"tmp/":         {typ: tar.TypeDir, mode: 0o1777},
			},
		},
		{
			name: "pause",
			spec: Spec{
				Tag:        "localhost/skiff/pause:3.10",
				Files:      map[string]File{"/pause": {Source: bin, Mode: 0o755}},
				Entrypoint: []string{"/pause"},
			},
			wantConfig: map[string]any{
				"Entrypoint":   []string{"/pause"},
				"Cmd":          []string(nil),
				"Env":          []string(nil),
				"WorkingDir":   "",
				"ExposedPorts": map[string]struct{}(nil),
			},
			wantEntries: map[string]entry{
				"pause": {typ: tar.TypeReg, mode: 0o755, content: "#!binary"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Output = filepath.Join(t.TempDir(), "out", "image.tar")
			if err := Build(tt.spec); err != nil {
				t.Fatal(err)
			}
			cfg, entries, order := readImage(t, tt.spec.Output, tt.spec.Tag)
			if !reflect.DeepEqual(cfg, tt.wantConfig) {
				t.Errorf("config %#v\nwant %#v", cfg, tt.wantConfig)
			}
			if !reflect.DeepEqual(entries, tt.wantEntries) {
				t.Errorf("layer entries %#v\nwant %#v", entries, tt.wantEntries)
			}
			seen := map[string]bool{}
			for _, p := range order {
				parent := strings.TrimSuffix(p, "/")
				if i := strings.LastIndex(parent, "/"); i >= 0 && !seen[parent[:i+1]] {
					t.Errorf("%s comes before its directory %s", p, parent[:i+1])
				}
				seen[p] = true
			}
			tags, err := Tags(tt.spec.Output)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{tt.spec.Tag}; !reflect.DeepEqual(tags, want) {
				t.Errorf("Tags = %q, want %q", tags, want)
			}
			if _, err := os.Stat(tt.spec.Output + ".tmp"); !os.IsNotExist(err) {
				t.Errorf("temporary file left behind: %v", err)
			}
		})
	}
}

func TestBuildExtraTags(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "agnhost")
	os.WriteFile(bin, []byte("agnhost"), 0o755)
	out := filepath.Join(dir, "agnhost.tar")
	spec := Spec{
		Tag:        "registry.k8s.io/e2e-test-images/agnhost:2.66.1",
		ExtraTags:  []string{"registry.k8s.io/e2e-test-images/agnhost:2.55"},
		Files:      map[string]File{"/agnhost": {Source: bin, Mode: 0o755}},
		Entrypoint: []string{"/agnhost"},
		Output:     out,
	}
	if err := Build(spec); err != nil {
		t.Fatal(err)
	}
	tags, err := Tags(out)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(tags)
	want := []string{"registry.k8s.io/e2e-test-images/agnhost:2.55", "registry.k8s.io/e2e-test-images/agnhost:2.66.1"}
	if !reflect.DeepEqual(tags, want) {
		t.Errorf("Tags = %q, want %q", tags, want)
	}
	for _, tag := range want {
		cfg, entries, _ := readImage(t, out, tag)
		if got := cfg["Entrypoint"]; !reflect.DeepEqual(got, []string{"/agnhost"}) {
			t.Errorf("%s: entrypoint %q, want /agnhost", tag, got)
		}
		if entries["agnhost"].content != "agnhost" {
			t.Errorf("%s: /agnhost missing from the layer", tag)
		}
	}
	spec.ExtraTags = []string{"Bad Tag!"}
	if err := Build(spec); err == nil || !strings.Contains(err.Error(), `image tag "Bad Tag!"`) {
		t.Errorf("Build with a bad extra tag = %v, want an error naming it", err)
	}
}

func TestBuildIsReproducible(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "pause")
	os.WriteFile(bin, []byte("pause"), 0o755)
	var digests []string
	for i := range 2 {
		out := filepath.Join(dir, "pause"+string(rune('a'+i))+".tar")
		spec := Spec{Tag: "localhost/skiff/pause:3.10", Files: map[string]File{"/pause": {Source: bin, Mode: 0o755}, "/dev": Dir(0o755)}, Entrypoint: []string{"/pause"}, Output: out}
		if err := Build(spec); err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(out, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of the same spec gave image IDs %s and %s", digests[0], digests[1])
	}
}

func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.WriteFile(bin, []byte("x"), 0o755)
	out := filepath.Join(dir, "out.tar")
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"bad tag", Spec{Tag: "Bad Tag!", Output: out}, `image tag "Bad Tag!"`},
		{"no output", Spec{Tag: "localhost/x:1"}, "no output path"},
		{"relative path", Spec{Tag: "localhost/x:1", Output: out, Files: map[string]File{"bin/x": {Source: bin}}}, "want an absolute path"},
		{"missing source", Spec{Tag: "localhost/x:1", Output: out, Files: map[string]File{"/x": {Source: filepath.Join(dir, "nope")}}}, "/x: open"},
		{"empty entry", Spec{Tag: "localhost/x:1", Output: out, Files: map[string]File{"/x": {}}}, "neither a source file"},
		{"file as a directory", Spec{Tag: "localhost/x:1", Output: out, Files: map[string]File{"/x": {Source: bin}, "/x/y": {Source: bin}}}, "/x: not a directory"},
		{"listed twice", Spec{Tag: "localhost/x:1", Output: out, Files: map[string]File{"/x": {Source: bin}, "/x/": {Source: bin}}}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Build(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Build error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed build left %s: %v", out, err)
	}
}
