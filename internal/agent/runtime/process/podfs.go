package process

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// This file decides what a pod's own file system view holds; mountns.go
// carries it out.

// podFiles are the files a pod's mount namespace shows in /etc instead of
// the host's; an empty content keeps the host's file.
type podFiles struct {
	resolvConf []byte
	hosts      []byte
}

// files returns the names (under /etc) and contents of f that are set.
func (f podFiles) files() map[string][]byte {
	out := map[string][]byte{}
	if len(f.resolvConf) > 0 {
		out["resolv.conf"] = f.resolvConf
	}
	if len(f.hosts) > 0 {
		out["hosts"] = f.hosts
	}
	return out
}

// planPodFiles decides a pod's /etc/resolv.conf and /etc/hosts: the
// resolv.conf of its DNS config when the kubelet gave one, and, for a pod
// in its own network namespace, a hosts file naming the pod's address.
func planPodFiles(config *runtimeapi.PodSandboxConfig, ownNetwork bool, podIP string) podFiles {
	var f podFiles
	if dns := config.GetDnsConfig(); dns != nil {
		f.resolvConf = resolvConf(dns.GetServers(), dns.GetSearches(), dns.GetOptions())
	}
	if ownNetwork {
		f.hosts = etcHosts(podIP, config.GetHostname())
	}
	return f
}

// resolvConf formats a resolv.conf as container runtimes write a pod's:
// one search line, a nameserver line per server, one options line. It is
// empty when there is nothing to say.
func resolvConf(servers, searches, options []string) []byte {
	var b strings.Builder
	if len(searches) > 0 {
		b.WriteString("search " + strings.Join(searches, " ") + "\n")
	}
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return []byte(b.String())
}

// etcHosts is a pod's /etc/hosts as the kubelet manages it: the loopback
// and IPv6 names, then the pod's address with its hostname.
func etcHosts(podIP, hostname string) []byte {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file (skiff process runtime).\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	if podIP != "" && hostname != "" {
		b.WriteString(podIP + "\t" + hostname + "\n")
	}
	return []byte(b.String())
}

// mountPoint is one line of a mountinfo file: where a mount is and its
// file system type.
type mountPoint struct {
	path   string
	fsType string
}

// parseMountinfo reads the mount points of a /proc/<pid>/mountinfo file.
func parseMountinfo(text string) []mountPoint {
	var out []mountPoint
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		mp := mountPoint{path: unescapeMountinfo(fields[4])}
		for i := 5; i < len(fields)-1; i++ {
			if fields[i] == "-" {
				mp.fsType = fields[i+1]
				break
			}
		}
		out = append(out, mp)
	}
	return out
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of a
// mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// submountsUnder returns the mounts strictly below dir that are not below
// another of them, relative to dir and sorted: what must be bound again on
// top of a layer put over dir (a recursive bind brings the deeper ones).
func submountsUnder(points []mountPoint, dir string) []string {
	dir = filepath.Clean(dir)
	prefix := dir + "/"
	if dir == "/" {
		prefix = "/"
	}
	var under []string
	seen := map[string]bool{}
	for _, p := range points {
		path := filepath.Clean(p.path)
		if path == dir || !strings.HasPrefix(path, prefix) || seen[path] {
			continue
		}
		seen[path] = true
		under = append(under, path)
	}
	sort.Strings(under)
	var out []string
	for _, p := range under {
		if len(out) > 0 {
			last := filepath.Join(dir, out[len(out)-1])
			if strings.HasPrefix(p, last+"/") {
				continue
			}
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
	}
	return out
}

// missingTarget is what must be made for a mount target that does not
// exist: the nearest existing directory above it, which gets a writable
// layer, and the name in that directory on the way to the target that must
// first be removed from the layer (a dangling symbolic link), if any.
type missingTarget struct {
	parent  string
	replace string
}

// planTarget decides how to make target (an absolute path) exist. stat and
// lstat look at the mount namespace the target is made in. It returns nil
// when target already exists.
func planTarget(target string, stat, lstat func(string) (fs.FileInfo, error)) (*missingTarget, error) {
	if !filepath.IsAbs(target) {
		return nil, fmt.Errorf("container path %q is not absolute", target)
	}
	target = filepath.Clean(target)
	if _, err := stat(target); err == nil {
		return nil, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	dir := filepath.Dir(target)
	for {
		fi, err := stat(dir)
		if err == nil {
			if !fi.IsDir() {
				return nil, fmt.Errorf("%s is not a directory", dir)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		dir = filepath.Dir(dir)
	}
	m := &missingTarget{parent: dir}
	first := firstComponent(dir, target)
	if _, err := lstat(filepath.Join(dir, first)); err == nil {
		m.replace = first
	}
	return m, nil
}

// firstComponent is the name, directly in parent, of the path leading to
// target (a path below parent).
func firstComponent(parent, target string) string {
	rel, err := filepath.Rel(parent, target)
	if err != nil {
		return ""
	}
	return strings.SplitN(rel, "/", 2)[0]
}
