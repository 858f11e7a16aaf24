package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Spec describes an image of one layer.
type Spec struct {
	// Tag names the image, e.g. localhost/skiff/model-server:v1.
	Tag string
	// ExtraTags are further names of the same image, written beside Tag in
	// the tarball's manifest (one image, several RepoTags).
	ExtraTags []string
	// Files maps absolute paths in the image to their content. Parent
	// directories that are not listed are added with mode 0755.
	Files map[string]File
	// Entrypoint, Cmd, Env (KEY=VALUE), WorkingDir and ExposedPorts
	// ("8000/tcp") go into the image's config as in a Dockerfile.
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	ExposedPorts []string
	// Architecture of the binaries in the image; runtime.GOARCH when empty.
	Architecture string
	// Output is the path of the docker-archive tarball to write.
	Output string
}

// File is one entry of the image's file system: a copy of a host file
// (Source), a file with the given Content, a directory (Mode has fs.ModeDir)
// or a symbolic link (Link).
type File struct {
	// Source is the host file whose content is copied.
	Source string
	// Content is the file's content when Source is empty.
	Content []byte
	// Mode holds the permission bits, fs.ModeSticky, fs.ModeSetuid and
	// fs.ModeSetgid where wanted, and fs.ModeDir for a directory. Zero means
	// 0644 for a file and 0755 for a directory.
	Mode fs.FileMode
	// Link, when set, makes the entry a symbolic link to this target.
	Link string
}

// Dir is a directory entry with the given permissions.
func Dir(perm fs.FileMode) File { return File{Mode: fs.ModeDir | perm} }

// Symlink is a symbolic link entry pointing to target.
func Symlink(target string) File { return File{Link: target} }

// epoch is the modification time of every entry and the image's creation
// time, so builds are reproducible.
var epoch = time.Unix(0, 0).UTC()

// Build writes the image spec describes to spec.Output.
func Build(spec Spec) error {
	tag, err := name.NewTag(spec.Tag, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("image tag %q: %w", spec.Tag, err)
	}
	tags := []name.Tag{tag}
	for _, t := range spec.ExtraTags {
		extra, err := name.NewTag(t, name.WeakValidation)
		if err != nil {
			return fmt.Errorf("image tag %q: %w", t, err)
		}
		tags = append(tags, extra)
	}
	if spec.Output == "" {
		return errors.New("image: no output path")
	}
	layerTar, err := layerTar(spec.Files)
	if err != nil {
		return fmt.Errorf("image %s: %w", spec.Tag, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return fmt.Errorf("image %s: layer: %w", spec.Tag, err)
	}
	img, err := configure(spec)
	if err != nil {
		return fmt.Errorf("image %s: config: %w", spec.Tag, err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "skiff image build"},
	})
	if err != nil {
		return fmt.Errorf("image %s: adding the layer: %w", spec.Tag, err)
	}
	if err := writeAtomically(spec.Output, tags, img); err != nil {
		return fmt.Errorf("image %s: %w", spec.Tag, err)
	}
	return nil
}

// configure returns an empty image with the spec's config.
func configure(spec Spec) (v1.Image, error) {
	cf, err := empty.Image.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = spec.Architecture
	if cf.Architecture == "" {
		cf.Architecture = runtime.GOARCH
	}
	cf.OS = "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config = v1.Config{
		Entrypoint: spec.Entrypoint,
		Cmd:        spec.Cmd,
		Env:        spec.Env,
		WorkingDir: spec.WorkingDir,
	}
	if len(spec.ExposedPorts) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range spec.ExposedPorts {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	return mutate.ConfigFile(empty.Image, cf)
}

// layerTar returns the uncompressed tar of the layer: the files sorted by
// path, each after its parent directories.
func layerTar(files map[string]File) ([]byte, error) {
	entries := map[string]File{}
	for p, f := range files {
		clean, err := archivePath(p)
		if err != nil {
			return nil, err
		}
		if _, dup := entries[clean]; dup {
			return nil, fmt.Errorf("%s: listed twice", p)
		}
		entries[clean] = f
	}
	for p := range entries {
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			if f, ok := entries[dir]; ok {
				if !f.Mode.IsDir() {
					return nil, fmt.Errorf("/%s: not a directory but /%s is in it", dir, p)
				}
				continue
			}
			entries[dir] = Dir(0o755)
		}
	}
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		if err := writeEntry(tw, p, entries[p]); err != nil {
			return nil, fmt.Errorf("/%s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// archivePath turns an absolute image path into a tar entry name.
func archivePath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%q: want an absolute path", p)
	}
	clean := strings.TrimPrefix(path.Clean(p), "/")
	if clean == "" {
		return "", fmt.Errorf("%q: the root cannot be an entry", p)
	}
	return clean, nil
}

func writeEntry(tw *tar.Writer, p string, f File) error {
	hdr := &tar.Header{
		Name:    p,
		ModTime: epoch,
		Format:  tar.FormatPAX,
	}
	switch {
	case f.Link != "":
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = f.Link
		hdr.Mode = 0o777
		return tw.WriteHeader(hdr)
	case f.Mode.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		hdr.Mode = tarMode(f.Mode, 0o755)
		return tw.WriteHeader(hdr)
	}
	content := f.Content
	switch {
	case f.Source != "":
		var err error
		if content, err = os.ReadFile(f.Source); err != nil {
			return err
		}
	case content == nil:
		return errors.New("neither a source file, content, a directory nor a link")
	}
	hdr.Typeflag = tar.TypeReg
	hdr.Mode = tarMode(f.Mode, 0o644)
	hdr.Size = int64(len(content))
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(content)
	return err
}

// tarMode converts Go's file mode bits to the tar header's (c_ISUID etc.).
func tarMode(m fs.FileMode, def int64) int64 {
	mode := int64(m.Perm())
	if mode == 0 && m&(fs.ModeSticky|fs.ModeSetuid|fs.ModeSetgid) == 0 {
		mode = def
	}
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// writeAtomically writes the tarball, img under every tag, next to out and
// renames it into place, so a reader never sees half an image.
func writeAtomically(out string, tags []name.Tag, img v1.Image) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	refs := make(map[name.Tag]v1.Image, len(tags))
	for _, t := range tags {
		refs[t] = img
	}
	tmp := out + ".tmp"
	if err := tarball.MultiWriteToFile(tmp, refs); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
