package volume

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestWriteAtomicReadersSeeWholeVersions(t *testing.T) {
	dir := t.TempDir()
	const size = 64 << 10
	version := func(n int) map[string]file {
		b := bytes.Repeat([]byte{byte('a' + n%26)}, size)
		return map[string]file{"model/weights": {data: b, mode: 0o644}, "version": {data: []byte(fmt.Sprint(n)), mode: 0o644}}
	}
	now := time.Unix(0, 0)
	if _, err := writeAtomic(dir, version(0), now); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(filepath.Join(dir, "model", "weights"))
			if errors.Is(err, os.ErrNotExist) {
				continue // the old version was removed between lookups
			}
			if err != nil {
				bad = err
				return
			}
			if len(b) != size || !bytes.Equal(b, bytes.Repeat(b[:1], size)) {
				bad = fmt.Errorf("read a mixed or partial file of %d bytes", len(b))
				return
			}
		}
	}()
	for n := 1; n <= 100; n++ {
		now = now.Add(time.Second)
		if changed, err := writeAtomic(dir, version(n), now); err != nil || !changed {
			t.Fatalf("version %d: changed %v, %v", n, changed, err)
		}
	}
	close(stop)
	wg.Wait()
	if bad != nil {
		t.Fatal(bad)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "version")); string(b) != "100" {
		t.Errorf("version = %q, want 100", b)
	}
}

func TestWriteAtomicCleansUp(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "..2020_01_01_00_00_00.crashed"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := writeAtomic(dir, map[string]file{"a/b": {data: []byte("x"), mode: 0o644}, "c": {data: []byte("y"), mode: 0o600}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := writeAtomic(dir, map[string]file{"c": {data: []byte("z"), mode: 0o600}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 || names[1] != "..data" || names[2] != "c" {
		t.Errorf("volume dir holds %q, want ..data, one data dir and c", names)
	}
	for _, bad := range []string{"../x", "/abs", "..hidden", "a/../../b"} {
		if _, err := writeAtomic(dir, map[string]file{bad: {}}, time.Now()); err == nil {
			t.Errorf("path %q accepted", bad)
		}
	}
}
