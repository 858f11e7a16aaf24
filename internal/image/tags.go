package image

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ErrNoTags says an image tarball names no image.
var ErrNoTags = errors.New("the tarball names no image")

// Tags returns the names of the images in a tarball: the RepoTags of a
// docker-archive (`docker save`, Build) or the image names of an OCI image
// layout (annotations io.containerd.image.name or
// org.opencontainers.image.ref.name in index.json). The tarball may be
// gzip-compressed.
func Tags(file string) ([]string, error) {
	dockerManifest, ociIndex, err := readIndexes(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var tags []string
	switch {
	case dockerManifest != nil:
		var m tarball.Manifest
		if err := json.Unmarshal(dockerManifest, &m); err != nil {
			return nil, fmt.Errorf("%s: manifest.json: %w", file, err)
		}
		for _, d := range m {
			tags = append(tags, d.RepoTags...)
		}
	case ociIndex != nil:
		var idx struct {
			Manifests []struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"manifests"`
		}
		if err := json.Unmarshal(ociIndex, &idx); err != nil {
			return nil, fmt.Errorf("%s: index.json: %w", file, err)
		}
		for _, m := range idx.Manifests {
			if n := m.Annotations["io.containerd.image.name"]; n != "" {
				tags = append(tags, n)
			} else if n := m.Annotations["org.opencontainers.image.ref.name"]; n != "" {
				tags = append(tags, n)
			}
		}
	default:
		return nil, fmt.Errorf("%s: neither a docker-archive (manifest.json) nor an OCI image layout (index.json)", file)
	}
	if len(tags) == 0 {
		return nil, fmt.Errorf("%s: %w", file, ErrNoTags)
	}
	return tags, nil
}

// readIndexes returns the content of manifest.json and index.json at the
// tarball's top level (nil when absent).
func readIndexes(file string) (dockerManifest, ociIndex []byte, err error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		defer gz.Close()
		r = gz
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dockerManifest, ociIndex, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("not an image tarball (docker-archive or OCI): %w", err)
		}
		const maxIndex = 16 << 20
		switch path.Clean(hdr.Name) {
		case "manifest.json":
			dockerManifest, err = io.ReadAll(io.LimitReader(tr, maxIndex))
		case "index.json":
			ociIndex, err = io.ReadAll(io.LimitReader(tr, maxIndex))
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", hdr.Name, err)
		}
	}
}
