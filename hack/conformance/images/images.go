package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	imageutils "k8s.io/kubernetes/test/utils/image"

	"skiff.dev/skiff/internal/image"
)

// binaries are the static programs `make conformance-images` builds into
// --bin-dir.
var binaries = []string{"agnhost", "nonewprivs", "sample-apiserver", "etcd", "pause", "nettools", "webserver"}

// inputs are where the images' files come from.
type inputs struct {
	// BinDir holds the binaries.
	BinDir string
	// Busybox is a static busybox.
	Busybox string
	// Bash is a static bash, the shell of the images with nettools.
	Bash string
	// KubernetesDir is the k8s.io/kubernetes module's source (the kitten
	// and nautilus pages, agnhost's porter certificate).
	KubernetesDir string
	// applets are busybox's applets as paths (bin/sh, usr/bin/awk, ...).
	applets []string
}

func (in inputs) bin(name string) string { return filepath.Join(in.BinDir, name) }

// upstreamImage is one image of the suite: its ID in
// k8s.io/kubernetes/test/utils/image and the name of that constant (which the
// tests' source spells, imageutils.<Const>).
type upstreamImage struct {
	ID    imageutils.ImageID
	Const string
}

// ref is the name the suite runs the image by.
func (u upstreamImage) ref() string { return imageutils.GetE2EImage(u.ID) }

// definition is one image tarball: the suite's images it answers for (the
// first is its tag, the others further tags of the same image) and how its
// files are put together.
type definition struct {
	// File is the tarball's name under --out.
	File string
	// Images are the suite's images this one is run as.
	Images []upstreamImage
	// Build says how the image is made; Substitute, when set, how it differs
	// from upstream's (IMAGES.md says the same for a reader).
	Build, Substitute string
	// spec returns the image's files and config (no tag, no output).
	spec func(in inputs) image.Spec
}

func (d definition) refs() []string {
	refs := make([]string, len(d.Images))
	for i, u := range d.Images {
		refs[i] = u.ref()
	}
	return refs
}

// definitions are the images written, by tarball.
var definitions = []definition{
	{
		File:   "agnhost.tar",
		Images: []upstreamImage{{imageutils.Agnhost, "Agnhost"}, {imageutils.AgnhostPrev, "AgnhostPrev"}},
		Build:  "k8s.io/kubernetes/test/images/agnhost from the module, with busybox, bash and nettools (curl, nc, dig, getent)",
		Substitute: "base is Debian's static busybox and bash plus test/images/nettools instead of Alpine with curl, " +
			"netcat-openbsd, bind-tools, iproute2, iperf, socat and coredns; AgnhostPrev is the same binary under the older tag",
		spec: func(in inputs) image.Spec {
			files := withTools(in, baseFiles(agnhostPasswd, agnhostGroup))
			files["/agnhost"] = image.File{Source: in.bin("agnhost"), Mode: 0o755}
			files["/agnhost-2"] = image.Symlink("agnhost")
			files["/uploads"] = image.Dir(0o755)
			porter := filepath.Join(in.KubernetesDir, "test/images/agnhost/porter")
			files["/localhost.crt"] = image.File{Source: filepath.Join(porter, "localhost.crt")}
			files["/localhost.key"] = image.File{Source: filepath.Join(porter, "localhost.key")}
			return image.Spec{
				Files:        files,
				Entrypoint:   []string{"/agnhost"},
				Cmd:          []string{"pause"},
				Env:          []string{pathEnv},
				WorkingDir:   "/",
				ExposedPorts: []string{"80", "8080", "8081", "9376", "5000"},
			}
		},
	},
	{
		File:       "busybox.tar",
		Images:     []upstreamImage{{imageutils.BusyBox, "BusyBox"}},
		Build:      "Debian's static busybox (busybox-static) with every applet linked",
		Substitute: "Debian's busybox release, not the one of the tag",
		spec: func(in inputs) image.Spec {
			return image.Spec{Files: withBusybox(in, baseFiles(passwd, group), nil), Cmd: []string{"sh"}, Env: []string{pathEnv}}
		},
	},
	{
		File:       "pause.tar",
		Images:     []upstreamImage{{imageutils.Pause, "Pause"}},
		Build:      "skiff's cmd/pause",
		Substitute: "Go instead of upstream's C pause; same contract: sleep until SIGINT/SIGTERM, reap children",
		spec: func(in inputs) image.Spec {
			return image.Spec{
				Files:      map[string]image.File{"/pause": {Source: in.bin("pause"), Mode: 0o755}},
				Entrypoint: []string{"/pause"},
			}
		},
	},
	{
		File:   "nginx.tar",
		Images: []upstreamImage{{imageutils.Nginx, "Nginx"}, {imageutils.NginxNew, "NginxNew"}},
		Build:  "test/images/webserver (static files on port 80) with busybox",
		Substitute: "a Go file server stands in for nginx: it serves /usr/share/nginx/html on port 80 and stops at once on " +
			"SIGTERM/SIGQUIT; no nginx configuration; NginxNew is the same image under the newer tag",
		spec: func(in inputs) image.Spec {
			files := withBusybox(in, baseFiles(passwd, group), nil)
			files["/usr/sbin/webserver"] = image.File{Source: in.bin("webserver"), Mode: 0o755}
			files["/usr/share/nginx/html/index.html"] = image.File{Content: []byte(nginxIndex)}
			return image.Spec{
				Files:        files,
				Entrypoint:   []string{"/usr/sbin/webserver"},
				Env:          []string{pathEnv},
				WorkingDir:   "/",
				ExposedPorts: []string{"80"},
			}
		},
	},
	{
		File:   "glibc-dns-testing.tar",
		Images: []upstreamImage{{imageutils.GlibcDnsTesting, "GlibcDnsTesting"}},
		Build:  "busybox and bash with test/images/nettools (dig, getent, curl, nc)",
		Substitute: "Debian with dnsutils (glibc's resolver) upstream; here Go's resolver answers getent and " +
			"nettools' dig (miekg/dns) the dig queries, so the glibc half of the DNS tests exercises no glibc",
		spec: func(in inputs) image.Spec {
			return image.Spec{Files: withTools(in, baseFiles(passwd, group)), Cmd: []string{"sh"}, Env: []string{pathEnv}}
		},
	},
	{
		File:   "nonewprivs.tar",
		Images: []upstreamImage{{imageutils.Nonewprivs, "Nonewprivs"}},
		Build:  "k8s.io/kubernetes/test/images/nonewprivs from the module, setuid root",
		spec: func(in inputs) image.Spec {
			files := baseFiles(passwd, group)
			files["/usr/local/bin/nnp"] = image.File{Source: in.bin("nonewprivs"), Mode: 0o755 | fs.ModeSetuid}
			return image.Spec{Files: files, Cmd: []string{"/usr/local/bin/nnp"}, Env: []string{pathEnv}}
		},
	},
	{
		File:   "sample-apiserver.tar",
		Images: []upstreamImage{{imageutils.APIServer, "APIServer"}},
		Build:  "k8s.io/sample-apiserver (the module of go.mod's Kubernetes release) from source, entrypoint /sample-apiserver",
		Substitute: "the tag names upstream's build of an older release; this is the sample-apiserver of our " +
			"k8s.io modules' release (same wardle.example.com API)",
		spec: func(in inputs) image.Spec {
			files := baseFiles(passwd, group)
			files["/sample-apiserver"] = image.File{Source: in.bin("sample-apiserver"), Mode: 0o755}
			return image.Spec{Files: files, Entrypoint: []string{"/sample-apiserver"}}
		},
	},
	{
		File:   "etcd.tar",
		Images: []upstreamImage{{imageutils.Etcd, "Etcd"}},
		Build:  "test/images/etcd: go.etcd.io/etcd/server/v3's etcdmain at /usr/local/bin/etcd",
		Substitute: "the etcd server release go.mod requires, not the one of the tag; no etcdctl, etcdutl or " +
			"migration scripts",
		spec: func(in inputs) image.Spec {
			files := baseFiles(passwd, group)
			files["/usr/local/bin/etcd"] = image.File{Source: in.bin("etcd"), Mode: 0o755}
			files["/var/lib/etcd"] = image.Dir(0o700)
			return image.Spec{Files: files, Cmd: []string{"/usr/local/bin/etcd"}, Env: []string{pathEnv},
				WorkingDir: "/var/lib/etcd", ExposedPorts: []string{"2379", "2380"}}
		},
	},
	updateDemo("kitten", imageutils.Kitten, "Kitten"),
	updateDemo("nautilus", imageutils.Nautilus, "Nautilus"),
}

// updateDemo is the kitten or nautilus image: upstream's page (data.json and
// the picture) at / served on port 80.
func updateDemo(name string, id imageutils.ImageID, constant string) definition {
	return definition{
		File:   name + ".tar",
		Images: []upstreamImage{{id, constant}},
		Build:  "upstream's html/ (data.json, " + name + ".jpg) from the module, served by test/images/webserver",
		Substitute: "upstream adds the files to the agnhost image and runs `agnhost test-webserver`; here the small file " +
			"server serves / on port 80 (/etc/os-release says what stands in for upstream's Alpine base)",
		spec: func(in inputs) image.Spec {
			html := filepath.Join(in.KubernetesDir, "test/images", name, "html")
			files := baseFiles(passwd, group)
			files["/usr/sbin/webserver"] = image.File{Source: in.bin("webserver"), Mode: 0o755}
			files["/data.json"] = image.File{Source: filepath.Join(html, "data.json")}
			files["/"+name+".jpg"] = image.File{Source: filepath.Join(html, name+".jpg")}
			return image.Spec{
				Files:        files,
				Entrypoint:   []string{"/usr/sbin/webserver", "-root", "/"},
				Env:          []string{pathEnv},
				WorkingDir:   "/",
				ExposedPorts: []string{"80"},
			}
		},
	}
}

const (
	pathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	passwd  = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group   = "root:x:0:\nnogroup:x:65534:\n"
	// agnhost's image has the user and group some tests look for
	// (supplemental groups from the image).
	agnhostPasswd = passwd + "user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n"
	agnhostGroup  = group + "user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n"
	// osRelease names the image's base honestly; the image volume test reads
	// "Alpine Linux" in it, upstream's base.
	osRelease = "NAME=\"skiff e2e image\"\nID=skiff-e2e\n" +
		"PRETTY_NAME=\"skiff e2e image, a stand-in for the upstream test image's Alpine Linux base\"\n"
	nginxIndex = "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n" +
		"<body><h1>Welcome to nginx!</h1><p>skiff's e2e substitute for the nginx image.</p></body></html>\n"
)

// baseFiles are the files every image with a shell has.
func baseFiles(passwd, group string) map[string]image.File {
	return map[string]image.File{
		"/etc/passwd":        {Content: []byte(passwd)},
		"/etc/group":         {Content: []byte(group)},
		"/etc/nsswitch.conf": {Content: []byte("hosts: files dns\n")},
		"/etc/os-release":    {Content: []byte(osRelease)},
		"/tmp":               image.Dir(0o777 | fs.ModeSticky),
		"/root":              image.Dir(0o700),
		"/home":              image.Dir(0o755),
	}
}

// nettoolsApplets are the programs test/images/nettools answers as; they
// replace busybox's applets of the same name (busybox's nc lacks -u, -v, -z).
var nettoolsApplets = []string{"curl", "nc", "dig", "getent"}

// withTools adds busybox, nettools and bash as /bin/sh to files. The shell
// is not busybox's: Debian's static busybox runs its own applets before
// looking in PATH, so `sh -c 'nc -u ...'` would run busybox's nc.
func withTools(in inputs, files map[string]image.File) map[string]image.File {
	files = withBusybox(in, files, append([]string{"sh", "bash"}, nettoolsApplets...))
	files["/bin/bash"] = image.File{Source: in.Bash, Mode: 0o755}
	files["/bin/sh"] = image.Symlink("bash")
	files["/usr/bin/nettools"] = image.File{Source: in.bin("nettools"), Mode: 0o755}
	for _, a := range nettoolsApplets {
		files["/usr/bin/"+a] = image.Symlink("nettools")
	}
	return files
}

// withBusybox adds /bin/busybox and a link for each of its applets at the
// path busybox --list-full gives, except those named in skip (and
// /linuxrc, the init of a busybox root file system).
func withBusybox(in inputs, files map[string]image.File, skip []string) map[string]image.File {
	files["/bin/busybox"] = image.File{Source: in.Busybox, Mode: 0o755}
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	for _, p := range in.applets {
		if p == "bin/busybox" || p == "linuxrc" || skipped[path.Base(p)] {
			continue
		}
		files["/"+p] = image.Symlink("/bin/busybox")
	}
	return files
}

// parseAppletList reads busybox --list-full: one path a line, relative to
// the root (bin/sh, usr/bin/awk).
func parseAppletList(r io.Reader) []string {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p := strings.Trim(strings.TrimSpace(sc.Text()), "/")
		if p == "" || strings.Contains(p, "..") {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// specs returns every image's spec, tagged and with its output path.
func specs(in inputs, out string) []image.Spec {
	var all []image.Spec
	for _, d := range definitions {
		s := d.spec(in)
		refs := d.refs()
		s.Tag, s.ExtraTags = refs[0], refs[1:]
		s.Output = filepath.Join(out, d.File)
		all = append(all, s)
	}
	return all
}

func run(in inputs, out string, stdout io.Writer) error {
	if in.KubernetesDir == "" {
		return fmt.Errorf("--kubernetes-dir is required (go list -m -f '{{.Dir}}' k8s.io/kubernetes)")
	}
	for _, b := range append([]string{in.Busybox, in.Bash}, binPaths(in)...) {
		if err := image.CheckStatic(b); err != nil {
			return err
		}
	}
	listed, err := exec.Command(in.Busybox, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("%s --list-full: %w", in.Busybox, err)
	}
	if in.applets = parseAppletList(bytes.NewReader(listed)); len(in.applets) == 0 {
		return fmt.Errorf("%s --list-full named no applet", in.Busybox)
	}
	for _, s := range specs(in, out) {
		if err := image.Build(s); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%s)\n", s.Output, strings.Join(append([]string{s.Tag}, s.ExtraTags...), ", "))
	}
	return nil
}

func binPaths(in inputs) []string {
	var out []string
	for _, b := range binaries {
		out = append(out, in.bin(b))
	}
	return out
}

// notProvided are the images that files with conformance tests name but
// that are not built, with the reason; a conformance test that runs one of
// them fails here.
var notProvided = map[string]string{
	"AgnhostPrivate":       "a private registry's image; only the non-conformance private-image tests of the same files run it",
	"InvalidRegistryImage": "an image that must fail to pull, by design",
	"NonRoot":              "only the runAsNonRoot tests run it, none of them conformance",
}
