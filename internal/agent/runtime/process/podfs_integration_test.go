//go:build integration

package process

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Two pods mount different files at the same missing path, get their own
// resolv.conf and hosts, and leave nothing on the host or in the state
// directory once removed.
func TestPodFilesystem(t *testing.T) {
	for _, technique := range []string{"overlayfs", "tmpfs"} {
		t.Run(technique, func(t *testing.T) {
			e := newTestRuntime(t)
			e.r.layers.noOverlay = technique == "tmpfs"
			testPodFilesystem(t, e)
		})
	}
}

func testPodFilesystem(t *testing.T, e *testEnv) {
	ctx := context.Background()
	suffix := randHex(4)
	etcDir := "/etc/model-" + suffix            // below an existing directory
	rootDir := "/models-" + suffix              // directly in /
	devFile := "/dev/termination-log-" + suffix // in a devtmpfs with mounts below
	for _, p := range []string{etcDir, rootDir, devFile} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s exists on the host before the test", p)
		}
	}
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	hostHosts, _ := os.ReadFile("/etc/hosts")
	// A file of the host, which a pod must still see.
	hostFile := filepath.Join(t.TempDir(), "host-file")
	if err := os.WriteFile(hostFile, []byte("from-the-host"), 0o644); err != nil {
		t.Fatal(err)
	}

	type pod struct {
		name, content, nameserver string
		sid, long, plain          string
		cfg                       *runtimeapi.PodSandboxConfig
	}
	pods := []*pod{{name: "alpha", content: "alpha-config", nameserver: "10.43.0.10"}, {name: "beta", content: "beta-config", nameserver: "10.43.0.11"}}
	for _, p := range pods {
		uid := randHex(8)
		p.cfg = &runtimeapi.PodSandboxConfig{
			Metadata:     &runtimeapi.PodSandboxMetadata{Name: p.name, Namespace: "default", Uid: uid},
			Hostname:     p.name,
			LogDirectory: filepath.Join(t.TempDir(), "default_"+p.name+"_"+uid),
			Labels:       map[string]string{"io.kubernetes.pod.name": p.name},
			Linux:        &runtimeapi.LinuxPodSandboxConfig{CgroupParent: "/skiff/pod" + uid},
			DnsConfig: &runtimeapi.DNSConfig{
				Servers:  []string{p.nameserver},
				Searches: []string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local"},
				Options:  []string{"ndots:5"},
			},
		}
		sid, err := e.r.RunPodSandbox(ctx, p.cfg, "")
		if err != nil {
			t.Fatalf("RunPodSandbox: %v", err)
		}
		p.sid = sid
		src := t.TempDir()
		if err := os.WriteFile(filepath.Join(src, "config.txt"), []byte(p.content), 0o644); err != nil {
			t.Fatal(err)
		}
		term := filepath.Join(t.TempDir(), "termination-log")
		if err := os.WriteFile(term, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		script := "cat " + etcDir + "/config.txt; echo; cat " + rootDir + "/config.txt; echo; echo msg > " + devFile +
			"; cat /etc/resolv.conf; cat /etc/hosts; cat " + hostFile + "; echo; ls /dev/null /dev/pts >/dev/null && echo dev-ok; exec " + busybox + " sleep 100"
		cc := containerConfig("main", script)
		cc.Mounts = []*runtimeapi.Mount{
			{HostPath: filepath.Join(src, "config.txt"), ContainerPath: etcDir + "/config.txt", Readonly: true},
			{HostPath: src, ContainerPath: rootDir},
			{HostPath: term, ContainerPath: devFile},
		}
		p.long = e.run(t, sid, p.cfg, cc)
		p.plain = e.run(t, sid, p.cfg, containerConfig("plain", "exec "+busybox+" sleep 100"))
		e.waitLog(t, p.long, "dev-ok")
		if b, _ := os.ReadFile(term); string(b) != "msg\n" {
			t.Errorf("pod %s: termination log %q, want the container's message", p.name, b)
		}
	}

	for _, p := range pods {
		st, err := e.r.ContainerStatus(ctx, p.long, false)
		if err != nil {
			t.Fatal(err)
		}
		log := readLog(t, st.Status.LogPath)
		ps, _ := e.r.PodSandboxStatus(ctx, p.sid, false)
		for _, want := range []string{
			"stdout F " + p.content + "\n", // the etc mount, then the root one
			"stdout F search default.svc.cluster.local svc.cluster.local cluster.local\n",
			"stdout F nameserver " + p.nameserver + "\n",
			"stdout F options ndots:5\n",
			"stdout F 127.0.0.1\tlocalhost\n",
			"stdout F " + ps.GetStatus().GetNetwork().GetIp() + "\t" + p.name + "\n",
			"stdout F from-the-host\n",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("pod %s: log lacks %q:\n%s", p.name, want, log)
			}
		}
		if strings.Count(log, p.content) != 2 {
			t.Errorf("pod %s: want its content twice (two mounts):\n%s", p.name, log)
		}

		// Exec enters the container's namespace, or else the pod's.
		out, _, err := e.r.ExecSync(ctx, p.long, []string{busybox, "cat", etcDir + "/config.txt", "/etc/resolv.conf"}, 5*time.Second)
		if err != nil || !strings.HasPrefix(string(out), p.content+"search ") || !strings.Contains(string(out), "nameserver "+p.nameserver+"\n") {
			t.Errorf("pod %s: exec in the container with mounts: %q, %v", p.name, out, err)
		}
		out, _, err = e.r.ExecSync(ctx, p.plain, []string{busybox, "cat", "/etc/resolv.conf", hostFile}, 5*time.Second)
		if err != nil || !strings.Contains(string(out), "nameserver "+p.nameserver+"\n") || !strings.HasSuffix(string(out), "from-the-host") {
			t.Errorf("pod %s: exec in the container without mounts: %q, %v", p.name, out, err)
		}
		// A container's mounts are its own, not its pod's.
		if _, _, err := e.r.ExecSync(ctx, p.plain, []string{busybox, "test", "-e", etcDir}, 5*time.Second); err == nil {
			t.Errorf("pod %s: a container without mounts sees another container's %s", p.name, etcDir)
		}
	}

	// The host saw none of it.
	for _, p := range []string{etcDir, rootDir, devFile} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s appeared on the host: %v", p, err)
		}
	}
	if b, _ := os.ReadFile("/etc/resolv.conf"); !bytes.Equal(b, hostResolv) {
		t.Errorf("the host's /etc/resolv.conf changed: %q", b)
	}
	if b, _ := os.ReadFile("/etc/hosts"); !bytes.Equal(b, hostHosts) {
		t.Errorf("the host's /etc/hosts changed: %q", b)
	}

	for _, p := range pods {
		if err := e.r.RemovePodSandbox(ctx, p.sid); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{etcDir, rootDir, devFile} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is on the host after the pods were removed: %v", p, err)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(e.r.cfg.StateDir, "pods")); len(left) > 0 {
		t.Errorf("pod directories left in the state directory: %v", left)
	}
}

// A pod without a DNS config sees the host's resolv.conf; a host-network
// pod the host's hosts file.
func TestPodFilesystemDefaults(t *testing.T) {
	e := newTestRuntime(t)
	ctx := context.Background()
	hostResolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Skip("the host has no /etc/resolv.conf")
	}
	hostHosts, _ := os.ReadFile("/etc/hosts")
	sid, sc := e.sandbox(t, "plain")
	id := e.run(t, sid, sc, containerConfig("c", "exec "+busybox+" sleep 100"))
	out, _, err := e.r.ExecSync(ctx, id, []string{busybox, "cat", "/etc/resolv.conf"}, 5*time.Second)
	if err != nil || !bytes.Equal(out, hostResolv) {
		t.Errorf("resolv.conf without a DNS config: %q, %v; want the host's %q", out, err, hostResolv)
	}

	// A hosts file the kubelet mounts wins over the runtime's.
	own := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(own, []byte("10.1.2.3 mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cc := containerConfig("mounted", "exec "+busybox+" sleep 100")
	cc.Mounts = []*runtimeapi.Mount{{HostPath: own, ContainerPath: "/etc/hosts"}}
	mid := e.run(t, sid, sc, cc)
	out, _, err = e.r.ExecSync(ctx, mid, []string{busybox, "cat", "/etc/hosts"}, 5*time.Second)
	if err != nil || string(out) != "10.1.2.3 mine\n" {
		t.Errorf("hosts mounted by the kubelet: %q, %v", out, err)
	}
	out, _, err = e.r.ExecSync(ctx, id, []string{busybox, "cat", "/etc/hosts"}, 5*time.Second)
	if err != nil || !strings.Contains(string(out), "\tplain\n") {
		t.Errorf("hosts of a pod in its own network: %q, %v", out, err)
	}

	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "hostnet", Namespace: "default", Uid: randHex(8)},
		LogDirectory: t.TempDir(),
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
		}},
	}
	hsid, err := e.r.RunPodSandbox(ctx, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	hid := e.run(t, hsid, cfg, containerConfig("c", "exec "+busybox+" sleep 100"))
	out, _, err = e.r.ExecSync(ctx, hid, []string{busybox, "cat", "/etc/hosts"}, 5*time.Second)
	if err != nil || !bytes.Equal(out, hostHosts) {
		t.Errorf("hosts of a host-network pod: %q, %v; want the host's", out, err)
	}
}

// A mount made on the host after the pod started (a memory-backed
// emptyDir) is what a container mounting that directory sees.
func TestMountMadeAfterThePod(t *testing.T) {
	e := newTestRuntime(t)
	sid, sc := e.sandbox(t, "late")
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("in-tmpfs"), 0o644); err != nil {
		t.Fatal(err)
	}
	cc := containerConfig("c", "cat /data/f")
	cc.Mounts = []*runtimeapi.Mount{{HostPath: dir, ContainerPath: "/data-" + randHex(4)}}
	cc.Command[3] = "cat " + cc.Mounts[0].ContainerPath + "/f"
	id := e.run(t, sid, sc, cc)
	st := e.waitExited(t, id, 10*time.Second)
	if log := readLog(t, st.LogPath); !strings.Contains(log, "stdout F in-tmpfs") {
		t.Errorf("container did not see the host's later mount:\n%s", log)
	}
}

// A target that is a dangling link is replaced in the layer, not followed
// onto the host.
func TestMountOverDanglingLink(t *testing.T) {
	e := newTestRuntime(t)
	sid, sc := e.sandbox(t, "link")
	dir := t.TempDir()
	nowhere := filepath.Join(t.TempDir(), "nowhere", "file")
	link := filepath.Join(dir, "link")
	if err := os.Symlink(nowhere, link); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("through-the-link"), 0o644); err != nil {
		t.Fatal(err)
	}
	cc := containerConfig("c", "cat "+link)
	cc.Mounts = []*runtimeapi.Mount{{HostPath: src, ContainerPath: link}}
	id := e.run(t, sid, sc, cc)
	st := e.waitExited(t, id, 10*time.Second)
	if log := readLog(t, st.LogPath); !strings.Contains(log, "stdout F through-the-link") {
		t.Errorf("container did not see the mount at a dangling link:\n%s", log)
	}
	if target, err := os.Readlink(link); err != nil || target != nowhere {
		t.Errorf("the host's link changed: %q, %v", target, err)
	}
	if _, err := os.Lstat(filepath.Dir(nowhere)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the link's target was made on the host: %v", err)
	}
}
