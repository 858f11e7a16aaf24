package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"skiff.dev/skiff/internal/image"
)

// kubernetesDir is the source of the k8s.io/kubernetes module go.mod
// requires.
func kubernetesDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Skipf("the k8s.io/kubernetes module's source is not at hand: %v", err)
	}
	return dir
}

// imageIDs returns the ordinal of each constant of the ImageID block in
// upstream's manifest.go (None = 0, then iota).
func imageIDs(t *testing.T, kdir string) map[string]int {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(kdir, "test/utils/image/manifest.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST || len(gd.Specs) == 0 {
			continue
		}
		if first := gd.Specs[0].(*ast.ValueSpec); first.Names[0].Name != "None" {
			continue
		}
		for i, s := range gd.Specs {
			ids[s.(*ast.ValueSpec).Names[0].Name] = i
		}
	}
	if len(ids) == 0 {
		t.Fatal("no ImageID constants in manifest.go")
	}
	return ids
}

// TestConstantsNameTheirIDs checks each definition's constant name against
// upstream's source, so the names the coverage test matches are the IDs the
// images are tagged from.
func TestConstantsNameTheirIDs(t *testing.T) {
	ids := imageIDs(t, kubernetesDir(t))
	for _, d := range definitions {
		for _, u := range d.Images {
			if got, ok := ids[u.Const]; !ok || got != int(u.ID) {
				t.Errorf("%s: constant %s is ImageID %d upstream (found %v), the definition says %d", d.File, u.Const, got, ok, u.ID)
			}
		}
	}
	for c := range notProvided {
		if _, ok := ids[c]; !ok {
			t.Errorf("notProvided names %s, which is no ImageID upstream", c)
		}
	}
}

// imageConstRE matches an image constant in the tests' source:
// imageutils.Agnhost, but not imageutils.GetE2EImage.
var imageConstRE = regexp.MustCompile(`imageutils\.([A-Z][A-Za-z0-9]*)\b`)

// TestCoversConformanceImages reads every file of upstream's test/e2e with a
// conformance test and fails on an image constant it names that is neither
// built nor listed in notProvided with a reason.
func TestCoversConformanceImages(t *testing.T) {
	kdir := kubernetesDir(t)
	ids := imageIDs(t, kdir)
	provided := map[string]bool{}
	for _, d := range definitions {
		for _, u := range d.Images {
			provided[u.Const] = true
		}
	}
	usedBy := map[string][]string{}
	root := filepath.Join(kdir, "test/e2e")
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Contains(src, []byte("framework.ConformanceIt(")) {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		for _, m := range imageConstRE.FindAllSubmatch(src, -1) {
			if c := string(m[1]); ids[c] > 0 {
				usedBy[c] = append(usedBy[c], rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"Agnhost", "BusyBox", "Pause"} {
		if len(usedBy[c]) == 0 {
			t.Fatalf("no conformance test file names imageutils.%s: the scan is broken", c)
		}
	}
	for c, files := range usedBy {
		if !provided[c] && notProvided[c] == "" {
			sort.Strings(files)
			t.Errorf("imageutils.%s (%s) is named by conformance test files %q but neither built nor in notProvided",
				c, imageRef(t, c, ids), unique(files))
		}
	}
}

func imageRef(t *testing.T, c string, ids map[string]int) string {
	for _, d := range definitions {
		for _, u := range d.Images {
			if u.Const == c {
				return u.ref()
			}
		}
	}
	return "ImageID " + strconv.Itoa(ids[c])
}

func unique(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// TestVersionsMatchTheSource checks that an image built from upstream's Go
// source carries the version of that source (test/images/NAME/VERSION), and
// that every file taken from the module exists there. (kitten's and
// nautilus' VERSION run ahead of the tags the suite asks for: their pages are
// the same, their agnhost base newer.)
func TestVersionsMatchTheSource(t *testing.T) {
	kdir := kubernetesDir(t)
	tests := []struct {
		file, dir string
	}{
		{file: "agnhost.tar", dir: "agnhost"},
		{file: "nonewprivs.tar", dir: "nonewprivs"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			d := definitionOf(t, tt.file)
			v, err := os.ReadFile(filepath.Join(kdir, "test/images", tt.dir, "VERSION"))
			if err != nil {
				t.Fatal(err)
			}
			ref := d.Images[0].ref()
			if want := ":" + strings.TrimSpace(string(v)); !strings.HasSuffix(ref, want) {
				t.Errorf("%s is built from source of version %s", ref, want[1:])
			}
		})
	}
	for _, s := range specs(inputs{KubernetesDir: kdir}, t.TempDir()) {
		for p, f := range s.Files {
			if strings.HasPrefix(f.Source, kdir) {
				if _, err := os.Stat(f.Source); err != nil {
					t.Errorf("%s: %s comes from %s: %v", s.Tag, p, f.Source, err)
				}
			}
		}
	}
}

func definitionOf(t *testing.T, file string) definition {
	t.Helper()
	for _, d := range definitions {
		if d.File == file {
			return d
		}
	}
	t.Fatalf("no definition writes %s", file)
	return definition{}
}

func TestParseAppletList(t *testing.T) {
	got := parseAppletList(strings.NewReader("bin/sh\n/usr/bin/awk\n\nbin/../etc/x\nsbin/ip\n"))
	want := []string{"bin/sh", "sbin/ip", "usr/bin/awk"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("parseAppletList = %q, want %q", got, want)
	}
}

// layer reads back the one layer of the image tagged ref in file.
func layer(t *testing.T, file, ref string) (cfgEntrypoint, cfgCmd []string, entries map[string]*tar.Header) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(file, &tag)
	if err != nil {
		t.Fatalf("%s: no image %s: %v", file, ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%s: %d layers (%v), want 1", ref, len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	entries = map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries["/"+strings.TrimSuffix(h.Name, "/")] = h
	}
	return cf.Config.Entrypoint, cf.Config.Cmd, entries
}

// TestImages builds every image from stand-in binaries and checks what the
// suite relies on: the names it runs them by, the entrypoints, and the
// programs its commands call.
func TestImages(t *testing.T) {
	dir := t.TempDir()
	kdir := filepath.Join(dir, "kubernetes")
	for _, f := range []string{"test/images/agnhost/porter/localhost.crt", "test/images/agnhost/porter/localhost.key",
		"test/images/kitten/html/data.json", "test/images/kitten/html/kitten.jpg",
		"test/images/nautilus/html/data.json", "test/images/nautilus/html/nautilus.jpg"} {
		os.MkdirAll(filepath.Dir(filepath.Join(kdir, f)), 0o755)
		os.WriteFile(filepath.Join(kdir, f), []byte(filepath.Base(f)), 0o644)
	}
	in := inputs{BinDir: filepath.Join(dir, "bin"), Busybox: filepath.Join(dir, "busybox"), Bash: filepath.Join(dir, "bash"), KubernetesDir: kdir,
		applets: []string{"bin/busybox", "bin/sh", "bin/cat", "bin/ls", "bin/nc", "sbin/ip", "usr/bin/wget"}}
	os.MkdirAll(in.BinDir, 0o755)
	os.WriteFile(in.Busybox, []byte("busybox"), 0o755)
	os.WriteFile(in.Bash, []byte("bash"), 0o755)
	for _, b := range binaries {
		os.WriteFile(in.bin(b), []byte(b), 0o755)
	}
	out := filepath.Join(dir, "out")
	all := specs(in, out)
	if len(all) != len(definitions) {
		t.Fatalf("%d specs for %d definitions", len(all), len(definitions))
	}
	for _, s := range all {
		if err := image.Build(s); err != nil {
			t.Fatal(err)
		}
	}

	type want struct {
		entrypoint, cmd []string
		links           map[string]string // path -> link target
		files           map[string]string // path -> content
		setuid          string
	}
	tests := []struct {
		file string
		want want
	}{
		{file: "agnhost.tar", want: want{
			entrypoint: []string{"/agnhost"}, cmd: []string{"pause"},
			links: map[string]string{"/bin/sh": "bash", "/bin/cat": "/bin/busybox", "/usr/bin/nc": "nettools",
				"/usr/bin/curl": "nettools", "/usr/bin/dig": "nettools", "/usr/bin/getent": "nettools", "/agnhost-2": "agnhost"},
			files: map[string]string{"/agnhost": "agnhost", "/localhost.crt": "localhost.crt", "/bin/bash": "bash"},
		}},
		{file: "busybox.tar", want: want{cmd: []string{"sh"},
			links: map[string]string{"/bin/sh": "/bin/busybox", "/sbin/ip": "/bin/busybox", "/bin/nc": "/bin/busybox"}}},
		{file: "pause.tar", want: want{entrypoint: []string{"/pause"}, files: map[string]string{"/pause": "pause"}}},
		{file: "nginx.tar", want: want{entrypoint: []string{"/usr/sbin/webserver"},
			links: map[string]string{"/bin/sh": "/bin/busybox"}, files: map[string]string{"/usr/share/nginx/html/index.html": nginxIndex}}},
		{file: "glibc-dns-testing.tar", want: want{cmd: []string{"sh"},
			links: map[string]string{"/bin/sh": "bash", "/usr/bin/dig": "nettools", "/usr/bin/getent": "nettools"}}},
		{file: "nonewprivs.tar", want: want{cmd: []string{"/usr/local/bin/nnp"}, setuid: "/usr/local/bin/nnp"}},
		{file: "sample-apiserver.tar", want: want{entrypoint: []string{"/sample-apiserver"}, files: map[string]string{"/sample-apiserver": "sample-apiserver"}}},
		{file: "etcd.tar", want: want{cmd: []string{"/usr/local/bin/etcd"}, files: map[string]string{"/usr/local/bin/etcd": "etcd"}}},
		{file: "kitten.tar", want: want{entrypoint: []string{"/usr/sbin/webserver", "-root", "/"},
			files: map[string]string{"/data.json": "data.json", "/kitten.jpg": "kitten.jpg", "/etc/os-release": osRelease}}},
		{file: "nautilus.tar", want: want{entrypoint: []string{"/usr/sbin/webserver", "-root", "/"},
			files: map[string]string{"/data.json": "data.json", "/nautilus.jpg": "nautilus.jpg"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			d := definitionOf(t, tt.file)
			file := filepath.Join(out, tt.file)
			tags, err := image.Tags(file)
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(tags)
			refs := d.refs()
			sort.Strings(refs)
			if strings.Join(tags, " ") != strings.Join(refs, " ") {
				t.Errorf("tags %q, want the suite's names %q", tags, refs)
			}
			for _, ref := range refs {
				ep, cmd, entries := layer(t, file, ref)
				if strings.Join(ep, " ") != strings.Join(tt.want.entrypoint, " ") || strings.Join(cmd, " ") != strings.Join(tt.want.cmd, " ") {
					t.Errorf("%s: entrypoint %q cmd %q, want %q %q", ref, ep, cmd, tt.want.entrypoint, tt.want.cmd)
				}
				for p, target := range tt.want.links {
					if h := entries[p]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != target {
						t.Errorf("%s: %s is %+v, want a link to %s", ref, p, h, target)
					}
				}
				for p := range tt.want.files {
					if h := entries[p]; h == nil || h.Typeflag != tar.TypeReg {
						t.Errorf("%s: no file %s", ref, p)
					}
				}
				if tt.want.setuid != "" {
					if h := entries[tt.want.setuid]; h == nil || h.Mode&0o4000 == 0 || h.Uid != 0 {
						t.Errorf("%s: %s is %+v, want setuid root", ref, tt.want.setuid, h)
					}
				}
			}
		})
	}
}
