package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	dataLink    = "..data"
	dataLinkTmp = "..data_tmp"
)

// file is one file of a projected volume.
type file struct {
	data []byte
	mode os.FileMode
}

// writeAtomic makes dir hold exactly payload (paths relative to dir),
// swapping the whole set at once; it does nothing when dir already holds
// it. It reports whether it changed anything.
func writeAtomic(dir string, files map[string]file, now time.Time) (bool, error) {
	payload := make(map[string]file, len(files))
	for p, f := range files {
		if err := validPath(p); err != nil {
			return false, err
		}
		payload[filepath.Clean(p)] = f
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create volume dir: %w", err)
	}
	old, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("read %s link: %w", dataLink, err)
	}
	if old != "" {
		same, err := holds(filepath.Join(dir, old), payload)
		if err != nil {
			return false, err
		}
		if same {
			return false, removeStaleLinks(dir, payload)
		}
	}

	tsDir, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, fmt.Errorf("create data dir: %w", err)
	}
	if err := writeFiles(tsDir, payload); err != nil {
		_ = os.RemoveAll(tsDir)
		return false, err
	}
	tmp := filepath.Join(dir, dataLinkTmp)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("remove stale %s: %w", dataLinkTmp, err)
	}
	if err := os.Symlink(filepath.Base(tsDir), tmp); err != nil {
		return false, fmt.Errorf("link new data dir: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		return false, fmt.Errorf("swap %s: %w", dataLink, err)
	}
	for name := range topLevel(payload) {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(dataLink, name), link); err != nil {
			return true, fmt.Errorf("link %s: %w", name, err)
		}
	}
	if err := removeStaleLinks(dir, payload); err != nil {
		return true, err
	}
	return true, removeOldDataDirs(dir, filepath.Base(tsDir))
}

// removeOldDataDirs removes the data directories other than current: the
// one just replaced and any a crash left behind.
func removeOldDataDirs(dir, current string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read volume dir: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || name == current || !strings.HasPrefix(name, "..") {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("remove old data dir: %w", err)
		}
	}
	return nil
}

func validPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty file path")
	case filepath.IsAbs(p):
		return fmt.Errorf("file path %q must be relative", p)
	case strings.HasPrefix(p, ".."):
		return fmt.Errorf("file path %q must not start with '..'", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("file path %q must not contain '..'", p)
		}
	}
	return nil
}

func topLevel(payload map[string]file) map[string]bool {
	names := make(map[string]bool, len(payload))
	for p := range payload {
		names[strings.SplitN(filepath.Clean(p), "/", 2)[0]] = true
	}
	return names
}

// removeStaleLinks drops the user-visible links of names no longer in the
// payload.
func removeStaleLinks(dir string, payload map[string]file) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read volume dir: %w", err)
	}
	keep := topLevel(payload)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") || keep[e.Name()] || e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("remove stale %s: %w", e.Name(), err)
		}
	}
	return nil
}

func writeFiles(root string, payload map[string]file) error {
	if err := os.Chmod(root, 0o755); err != nil {
		return fmt.Errorf("chmod data dir: %w", err)
	}
	for p, f := range payload {
		path := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("create dir for %s: %w", p, err)
		}
		if err := os.WriteFile(path, f.data, f.mode); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		if err := os.Chmod(path, f.mode); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	return nil
}

// holds reports whether root has exactly the files of payload, with their
// content and mode.
func holds(root string, payload map[string]file) (bool, error) {
	seen := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		want, ok := payload[rel]
		if !ok {
			return errDiffers
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm() != want.mode.Perm() {
			return errDiffers
		}
		got, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want.data) {
			return errDiffers
		}
		seen++
		return nil
	})
	switch {
	case errors.Is(err, errDiffers), errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("compare volume content: %w", err)
	}
	return seen == len(payload), nil
}

var errDiffers = errors.New("differs")
