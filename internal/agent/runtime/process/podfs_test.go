package process

import (
	"io/fs"
	"os"
	"reflect"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestResolvConf(t *testing.T) {
	tests := []struct {
		name                       string
		servers, searches, options []string
		want                       string
	}{
		{"empty", nil, nil, nil, ""},
		{"cluster first", []string{"10.43.0.10"}, []string{"ns.svc.cluster.local", "svc.cluster.local", "cluster.local"}, []string{"ndots:5"},
			"search ns.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n"},
		{"servers only", []string{"1.1.1.1", "8.8.8.8"}, nil, nil, "nameserver 1.1.1.1\nnameserver 8.8.8.8\n"},
		{"options only", nil, nil, []string{"ndots:2", "edns0"}, "options ndots:2 edns0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(resolvConf(tt.servers, tt.searches, tt.options)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlanPodFiles(t *testing.T) {
	dns := &runtimeapi.DNSConfig{Servers: []string{"10.43.0.10"}}
	tests := []struct {
		name       string
		config     *runtimeapi.PodSandboxConfig
		ownNetwork bool
		wantFiles  []string
		wantHosts  string
	}{
		{"nothing for a host-network pod without DNS config", &runtimeapi.PodSandboxConfig{Hostname: "h"}, false, nil, ""},
		{"resolv.conf from the DNS config", &runtimeapi.PodSandboxConfig{DnsConfig: dns}, false, []string{"resolv.conf"}, ""},
		{"an empty DNS config keeps the host's", &runtimeapi.PodSandboxConfig{DnsConfig: &runtimeapi.DNSConfig{}}, false, nil, ""},
		{"hosts for a pod in its own network", &runtimeapi.PodSandboxConfig{Hostname: "web-0", DnsConfig: dns}, true, []string{"hosts", "resolv.conf"}, "10.244.1.5\tweb-0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := planPodFiles(tt.config, tt.ownNetwork, "10.244.1.5").files()
			var names []string
			for _, n := range []string{"hosts", "resolv.conf"} {
				if _, ok := files[n]; ok {
					names = append(names, n)
				}
			}
			if !reflect.DeepEqual(names, tt.wantFiles) {
				t.Errorf("files %v, want %v", names, tt.wantFiles)
			}
			hosts := string(files["hosts"])
			if tt.wantHosts != "" && (len(hosts) < len(tt.wantHosts) || hosts[len(hosts)-len(tt.wantHosts):] != tt.wantHosts) {
				t.Errorf("hosts does not end with %q:\n%s", tt.wantHosts, hosts)
			}
		})
	}
	if got := string(etcHosts("10.0.0.1", "")); got != string(etcHosts("", "x")) {
		t.Errorf("a hosts file without an address or hostname names the pod:\n%s", got)
	}
}

func TestParseMountinfo(t *testing.T) {
	text := `26 1 254:0 / / rw,relatime - ext4 /dev/vda rw
23 26 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,mode=755
25 23 0:23 / /dev/pts rw,relatime shared:3 - devpts devpts rw
70 26 0:4 net:[4026532] /run/netns/skiff-1 rw - nsfs nsfs rw
71 26 0:40 / /mnt/with\040space rw - tmpfs tmpfs rw
`
	want := []mountPoint{{"/", "ext4"}, {"/dev", "devtmpfs"}, {"/dev/pts", "devpts"}, {"/run/netns/skiff-1", "nsfs"}, {"/mnt/with space", "tmpfs"}}
	if got := parseMountinfo(text); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSubmountsUnder(t *testing.T) {
	points := func(paths ...string) []mountPoint {
		var out []mountPoint
		for _, p := range paths {
			out = append(out, mountPoint{path: p})
		}
		return out
	}
	tests := []struct {
		name   string
		points []mountPoint
		dir    string
		want   []string
	}{
		{"none", points("/", "/proc", "/etc"), "/etc", nil},
		{"direct and nested", points("/", "/dev", "/dev/pts", "/dev/shm", "/dev/shm/x", "/dev/pts"), "/dev", []string{"pts", "shm"}},
		{"deeper first", points("/etc/a/b", "/etc/a"), "/etc", []string{"a"}},
		{"prefix of a name is not below", points("/etcetera", "/etc2/x"), "/etc", nil},
		{"root", points("/", "/proc", "/proc/sys", "/sys"), "/", []string{"proc", "sys"}},
		{"file mounts", points("/etc/resolv.conf", "/etc/hosts"), "/etc", []string{"hosts", "resolv.conf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := submountsUnder(tt.points, tt.dir); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// fakeInfo is a file of a fake tree: a directory, a file or a link.
type fakeInfo struct {
	name string
	mode fs.FileMode
}

func (f fakeInfo) Name() string       { return f.name }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return nil }

func TestPlanTarget(t *testing.T) {
	// The tree: dirs, a file, a link to a dir, a dangling link.
	tree := map[string]fs.FileMode{"/": fs.ModeDir, "/etc": fs.ModeDir, "/etc/hosts": 0, "/dev": fs.ModeDir, "/var": fs.ModeDir, "/run": fs.ModeDir}
	links := map[string]string{"/var/run": "/run", "/etc/resolv.conf": "/run/missing/resolv.conf", "/etc/gone": "/nowhere"}
	lstat := func(p string) (fs.FileInfo, error) {
		if m, ok := tree[p]; ok {
			return fakeInfo{p, m}, nil
		}
		if _, ok := links[p]; ok {
			return fakeInfo{p, fs.ModeSymlink}, nil
		}
		return nil, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
	}
	stat := func(p string) (fs.FileInfo, error) {
		for range 8 {
			if to, ok := links[p]; ok {
				p = to
				continue
			}
			// A link as a parent: /var/run/x is /run/x.
			for from, to := range links {
				if len(p) > len(from) && p[:len(from)+1] == from+"/" {
					p = to + p[len(from):]
				}
			}
			break
		}
		if m, ok := tree[p]; ok {
			return fakeInfo{p, m}, nil
		}
		return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	tests := []struct {
		target  string
		want    *missingTarget
		wantErr bool
	}{
		{"/etc/hosts", nil, false},
		{"/etc/model/config.txt", &missingTarget{parent: "/etc"}, false},
		{"/models", &missingTarget{parent: "/"}, false},
		{"/a/b/c", &missingTarget{parent: "/"}, false},
		{"/dev/termination-log", &missingTarget{parent: "/dev"}, false},
		{"/var/run/x/y", &missingTarget{parent: "/var/run"}, false},
		{"/etc/resolv.conf", &missingTarget{parent: "/etc", replace: "resolv.conf"}, false},
		{"/etc/gone/x", &missingTarget{parent: "/etc", replace: "gone"}, false},
		{"/etc/hosts/x", nil, true},
		{"relative/path", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			got, err := planTarget(tt.target, stat, lstat)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want one: %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	// The real tree is read the same way.
	if got, err := planTarget("/", os.Stat, os.Lstat); got != nil || err != nil {
		t.Errorf("/ exists: %v, %v", got, err)
	}
}

func TestHidden(t *testing.T) {
	if !hidden("resolv.conf", []string{"resolv.conf"}) || !hidden("gone/x", []string{"gone"}) || hidden("gonex", []string{"gone"}) || hidden("a", nil) {
		t.Error("hidden is wrong")
	}
}
