// Command mkimage writes skiff's container images from binaries built by
// `make images`: pause.tar (localhost/skiff/pause:3.10) and
// model-server-v1.tar, model-server-v2.tar (localhost/skiff/model-server:v1
// and :v2, with a static busybox for sh, tar, ps and friends and fetch, the
// static HTTP and DNS client of cmd/fetch, at /bin/fetch), each a
// single-layer docker-archive that containerd imports.
//
//	go run ./hack/mkimage --bin-dir build/images/bin --busybox /bin/busybox --out build/images
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"skiff.dev/skiff/internal/image"
)

// applets are the busybox commands linked into /bin of the model-server
// image (those the installed busybox lacks are left out). tar is what
// `kubectl cp` runs in the container.
var applets = []string{
	"[", "[[", "awk", "basename", "cat", "chmod", "chown", "cp", "cut", "date", "dd", "df", "dirname",
	"du", "echo", "env", "false", "find", "free", "grep", "gunzip", "gzip", "head", "hostname", "id",
	"ip", "kill", "killall", "less", "ln", "ls", "mkdir", "mktemp", "more", "mv", "nc", "nslookup",
	"ping", "printenv", "printf", "ps", "pwd", "readlink", "rm", "rmdir", "sed", "seq", "sh", "sleep",
	"sort", "stat", "tail", "tar", "tee", "test", "timeout", "top", "touch", "tr", "true", "uname",
	"uniq", "uptime", "vi", "wc", "wget", "which", "whoami", "xargs", "yes",
}

const (
	pathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	passwd  = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group   = "root:x:0:\nnogroup:x:65534:\n"
)

func main() {
	binDir := flag.String("bin-dir", "build/images/bin", "directory with the static binaries pause, model-server-v1 and model-server-v2")
	busybox := flag.String("busybox", "/bin/busybox", "a statically linked busybox (Debian: busybox-static)")
	out := flag.String("out", "build/images", "directory to write the image tarballs to")
	flag.Parse()
	if err := run(*binDir, *busybox, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(binDir, busybox, out string) error {
	pause := filepath.Join(binDir, "pause")
	fetch := filepath.Join(binDir, "fetch")
	for _, bin := range []string{pause, busybox, fetch, filepath.Join(binDir, "model-server-v1"), filepath.Join(binDir, "model-server-v2")} {
		if err := image.CheckStatic(bin); err != nil {
			return err
		}
	}
	specs := []image.Spec{{
		Tag:        "localhost/skiff/pause:3.10",
		Files:      map[string]image.File{"/pause": {Source: pause, Mode: 0o755}},
		Entrypoint: []string{"/pause"},
		Output:     filepath.Join(out, "pause.tar"),
	}}
	links := availableApplets(busybox)
	for _, v := range []string{"v1", "v2"} {
		files := map[string]image.File{
			"/model-server": {Source: filepath.Join(binDir, "model-server-"+v), Mode: 0o755},
			"/bin/busybox":  {Source: busybox, Mode: 0o755},
			"/bin/fetch":    {Source: fetch, Mode: 0o755},
			"/etc/passwd":   {Content: []byte(passwd)},
			"/etc/group":    {Content: []byte(group)},
			"/tmp":          image.Dir(0o777 | fs.ModeSticky),
			"/root":         image.Dir(0o700),
		}
		for _, a := range links {
			files["/bin/"+a] = image.Symlink("busybox")
		}
		specs = append(specs, image.Spec{
			Tag:          "localhost/skiff/model-server:" + v,
			Files:        files,
			Entrypoint:   []string{"/model-server"},
			Env:          []string{pathEnv},
			WorkingDir:   "/",
			ExposedPorts: []string{"8000/tcp"},
			Output:       filepath.Join(out, "model-server-"+v+".tar"),
		})
	}
	for _, s := range specs {
		if err := image.Build(s); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%s)\n", s.Output, s.Tag)
	}
	return nil
}

// availableApplets returns the applets busybox has, out of the wanted list;
// the whole list when busybox cannot say.
func availableApplets(busybox string) []string {
	listed, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return applets
	}
	have := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(listed))
	for sc.Scan() {
		have[strings.TrimSpace(sc.Text())] = true
	}
	var out []string
	for _, a := range applets {
		if have[a] {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		fmt.Fprintln(os.Stderr, "mkimage: busybox --list named none of the wanted applets; linking all")
		return applets
	}
	return out
}
