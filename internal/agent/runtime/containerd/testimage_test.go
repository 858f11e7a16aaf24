package containerd

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// testProgram is the one binary of the test images:
//
//	pause           wait for SIGTERM or SIGINT, exit 0 (also with no args)
//	echo WORD...    print each word on its own line to stdout, exit 0
//	exit N          print "exiting N" to stderr, exit N
//	serve           print "ready", wait for SIGTERM, print "terminated", exit 0
//	ignore-term     ignore SIGTERM, print "ready", run until killed
//	status          print /proc/self/status, exit 0
const testProgram = `package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func wait() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}

func main() {
	if len(os.Args) < 2 {
		wait()
		return
	}
	switch os.Args[1] {
	case "echo":
		for _, w := range os.Args[2:] {
			fmt.Println(w)
		}
	case "exit":
		n, _ := strconv.Atoi(os.Args[2])
		fmt.Fprintf(os.Stderr, "exiting %d\n", n)
		os.Exit(n)
	case "serve":
		fmt.Println("ready")
		wait()
		fmt.Println("terminated")
	case "status":
		b, _ := os.ReadFile("/proc/self/status")
		os.Stdout.Write(b)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		for {
			time.Sleep(time.Hour)
		}
	default:
		wait()
	}
}
`

// testImages builds the test program and writes two docker-archive images
// into dir: pause.tar (SandboxImage, entrypoint /pause) and app.tar (tag,
// entrypoint /app, command "serve").
func testImages(t *testing.T, dir, tag string) (pauseTar, appTar string) {
	t.Helper()
	src := filepath.Join(dir, "prog")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(testProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module prog\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "prog.bin")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the test program: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	pauseTar = filepath.Join(dir, "pause.tar")
	appTar = filepath.Join(dir, "app.tar")
	writeTestImage(t, pauseTar, SandboxImage, "pause", data, []string{"/pause"}, nil)
	writeTestImage(t, appTar, tag, "app", data, []string{"/app"}, []string{"serve"})
	return pauseTar, appTar
}

// writeTestImage writes a one-layer image holding binary at /file as a
// docker archive tagged tag.
func writeTestImage(t *testing.T, path, tag, file string, binary []byte, entrypoint, cmd []string) {
	t.Helper()
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	if err := tw.WriteHeader(&tar.Header{Name: file, Mode: 0o755, Size: int64(len(binary)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(binary); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layerBytes := layerTar.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	cf.Config = v1.Config{Entrypoint: entrypoint, Cmd: cmd}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		t.Fatal(err)
	}
}
