package containerd

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
)

// The chains the CNI portmap plugin shares between all networks on a host.
const (
	hostportDNAT    = "CNI-HOSTPORT-DNAT"
	hostportMasq    = "CNI-HOSTPORT-MASQ"
	hostportSetmark = "CNI-HOSTPORT-SETMARK"
)

// hostDirs are directories outside StateDir that containerd, its shims and
// the CNI plugins create, children before parents: the shims' sockets and
// the CNI results cache. The runtime removes those it saw appear once they
// are empty.
var hostDirs = []string{"/run/containerd/s", "/run/containerd", "/var/lib/cni/results", "/var/lib/cni"}

// missingHostDirs are the hostDirs that do not exist now.
func missingHostDirs() []string {
	var missing []string
	for _, d := range hostDirs {
		if _, err := os.Stat(d); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, d)
		}
	}
	return missing
}

// cleanupHost removes what a stopped containerd and the CNI plugins leave
// behind for this runtime: mounts under StateDir, the bridge, the iptables
// rules and chains of the network and the pods' cgroups. It keeps going
// after errors and returns them all.
func cleanupHost(cfg *Config, cgroupParents, newDirs []string, log *slog.Logger) error {
	var errs []error
	killLeftovers(cfg, cgroupParents, log)
	if err := unmountUnder(cfg.StateDir); err != nil {
		errs = append(errs, err)
	}
	if err := deleteBridge(cfg.BridgeName); err != nil {
		errs = append(errs, err)
	}
	if err := cleanupIPTables(cfg.networkName(), log); err != nil {
		errs = append(errs, err)
	}
	removeCgroups(cgroupParents, log)
	removeCNICache(cfg.networkName(), cfg.StateDir)
	for _, d := range newDirs {
		_ = syscall.Rmdir(d) // only when empty: another containerd may use it
	}
	for _, s := range []string{SocketPath(cfg.StateDir), SocketPath(cfg.StateDir) + ".ttrpc"} {
		_ = os.Remove(s)
	}
	return errors.Join(errs...)
}

// killLeftovers kills what outlives a containerd whose sandboxes could not
// all be removed: the processes in the pods' cgroups and the shims of this
// containerd (a shim's command line names its containerd's socket).
func killLeftovers(cfg *Config, cgroupParents []string, log *slog.Logger) {
	var pids []int
	for _, parent := range cgroupParents {
		for _, root := range []string{filepath.Join(cgroupRoot, "pids"), cgroupRoot} {
			_ = filepath.WalkDir(filepath.Join(root, filepath.Clean("/"+parent)), func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
					return nil
				}
				data, _ := os.ReadFile(path)
				for _, f := range strings.Fields(string(data)) {
					if pid, err := strconv.Atoi(f); err == nil {
						pids = append(pids, pid)
					}
				}
				return nil
			})
		}
	}
	var shimSockets []string
	for _, shim := range shimsOf(SocketPath(cfg.StateDir)) {
		pids = append(pids, shim.pid)
		shimSockets = append(shimSockets, shim.sockets...)
	}
	if len(pids) == 0 {
		return
	}
	log.Warn("killing processes left by containerd", "pids", pids)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, s := range shimSockets {
		_ = os.Remove(s)
	}
	// Give the kernel a moment to empty the cgroups before they are removed.
	for range 50 {
		alive := 0
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
				alive++
			}
		}
		if alive == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shimSocketDir is where containerd's shims listen, whatever containerd's
// own state dir.
const shimSocketDir = "/run/containerd/s"

// shim is a containerd shim process.
type shim struct {
	pid     int
	sockets []string // the sockets it may listen on
}

// shimsOf finds the shims of the containerd listening on socket: their
// command line is "containerd-shim-* -namespace NS -id ID -address SOCKET",
// and they listen on shimSocketDir/sha256(SOCKET/NS/ID) (+"/debug" for
// the debug socket).
func shimsOf(socket string) []shim {
	var shims []shim
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, path := range cmdlines {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		flags := map[string]string{}
		for i := 1; i+1 < len(args); i++ {
			if strings.HasPrefix(args[i], "-") {
				flags[strings.TrimLeft(args[i], "-")] = args[i+1]
			}
		}
		if flags["address"] != socket {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		if err != nil {
			continue
		}
		s := shim{pid: pid}
		if flags["namespace"] != "" && flags["id"] != "" {
			p := filepath.Join(socket, flags["namespace"], flags["id"])
			for _, name := range []string{p, filepath.Join(p, "debug")} {
				s.sockets = append(s.sockets, filepath.Join(shimSocketDir, fmt.Sprintf("%x", sha256.Sum256([]byte(name)))))
			}
		}
		shims = append(shims, s)
	}
	return shims
}

// isZombie reports whether pid has exited and waits for its parent.
func isZombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses.
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}

// unmountUnder detaches every mount below dir (network namespaces, rootfs
// overlays a crashed shim left), deepest first.
func unmountUnder(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("mounts: %w", err)
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountPath(fields[4])
		if strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cniCacheDir is where CNI keeps the results of pods' network setup until
// their teardown.
const cniCacheDir = "/var/lib/cni/results"

// removeCNICache removes the cached CNI results of pods whose teardown
// never ran: those of network, and those of containerd's loopback network
// for network namespaces under StateDir.
func removeCNICache(network, stateDir string) {
	files, _ := filepath.Glob(filepath.Join(cniCacheDir, "*"))
	for _, f := range files {
		name := filepath.Base(f)
		if !strings.HasPrefix(name, network+"-") && !strings.HasPrefix(name, "cni-loopback-") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var cached struct {
			NetworkName string `json:"networkName"`
			Result      struct {
				Interfaces []struct {
					Sandbox string `json:"sandbox"`
				} `json:"interfaces"`
			} `json:"result"`
		}
		if json.Unmarshal(data, &cached) != nil {
			continue
		}
		ours := cached.NetworkName == network
		for _, i := range cached.Result.Interfaces {
			ours = ours || strings.HasPrefix(i.Sandbox, stateDir+"/")
		}
		if ours {
			_ = os.Remove(f)
		}
	}
}

// deleteBridge deletes the pod network's bridge if it exists.
func deleteBridge(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil
		}
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil {
		return fmt.Errorf("delete bridge %s: %w", name, err)
	}
	return nil
}

// cleanupIPTables removes the nat rules the bridge (ipMasq) and portmap
// plugins made for network and did not remove (a pod whose CNI DEL
// failed), the per-pod chains they jump to, and the portmap plugin's shared
// chains once no network uses them.
func cleanupIPTables(network string, log *slog.Logger) error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil
	}
	rules, err := natRules()
	if err != nil {
		return err
	}
	var errs []error
	marker := fmt.Sprintf(`name: "%s"`, network)
	podChains := map[string]bool{}
	for _, r := range rules {
		if r[0] != "-A" || !ruleHasComment(r, marker) {
			continue
		}
		if t := ruleTarget(r); strings.HasPrefix(t, "CNI-") && !strings.HasPrefix(t, "CNI-HOSTPORT-") {
			podChains[t] = true
		}
		if err := iptables(append([]string{"-D"}, r[1:]...)...); err != nil {
			errs = append(errs, err)
		}
	}
	for chain := range podChains {
		log.Debug("removing a CNI chain left behind", "chain", chain)
		if err := deleteChain(chain); err != nil {
			errs = append(errs, err)
		}
	}

	// The portmap plugin's own chains stay once made; they go when no pod
	// of any network has a host port any more.
	if rules, err = natRules(); err != nil {
		return errors.Join(append(errs, err)...)
	}
	chains, dnatRules := map[string]bool{}, 0
	for _, r := range rules {
		if r[0] == "-N" && len(r) > 1 {
			chains[r[1]] = true
		}
		if r[0] == "-A" && len(r) > 1 && r[1] == hostportDNAT {
			dnatRules++
		}
	}
	if !chains[hostportDNAT] || dnatRules > 0 {
		return errors.Join(errs...)
	}
	for _, r := range rules {
		if r[0] != "-A" || len(r) < 2 || strings.HasPrefix(r[1], "CNI-HOSTPORT-") {
			continue
		}
		if t := ruleTarget(r); t == hostportDNAT || t == hostportMasq || t == hostportSetmark {
			if err := iptables(append([]string{"-D"}, r[1:]...)...); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, chain := range []string{hostportDNAT, hostportMasq, hostportSetmark} {
		if chains[chain] {
			if err := deleteChain(chain); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// natRules is `iptables -t nat -S`, each line split into its arguments.
func natRules() ([][]string, error) {
	out, err := exec.Command("iptables", "-w", "-t", "nat", "-S").Output()
	if err != nil {
		return nil, fmt.Errorf("iptables -t nat -S: %w", commandError(err))
	}
	var rules [][]string
	for _, line := range strings.Split(string(out), "\n") {
		if args := splitRule(line); len(args) > 0 {
			rules = append(rules, args)
		}
	}
	return rules, nil
}

func iptables(args ...string) error {
	if _, err := exec.Command("iptables", append([]string{"-w", "-t", "nat"}, args...)...).Output(); err != nil {
		return fmt.Errorf("iptables -t nat %s: %w", strings.Join(args, " "), commandError(err))
	}
	return nil
}

func deleteChain(chain string) error {
	if err := iptables("-F", chain); err != nil {
		return err
	}
	return iptables("-X", chain)
}

// commandError adds a failed command's stderr to its error.
func commandError(err error) error {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && len(exitErr.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(exitErr.Stderr)))
	}
	return err
}

// splitRule splits a line of `iptables -S` into arguments: words separated
// by spaces, a double-quoted word may hold spaces and \" escapes.
func splitRule(line string) []string {
	var args []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			quoted = !quoted
			inWord = true
		case c == ' ' && !quoted:
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args
}

// ruleHasComment reports whether a rule's comment contains s.
func ruleHasComment(rule []string, s string) bool {
	for i := 0; i+1 < len(rule); i++ {
		if rule[i] == "--comment" && strings.Contains(rule[i+1], s) {
			return true
		}
	}
	return false
}

// ruleTarget is the chain or target a rule jumps to ("" if none).
func ruleTarget(rule []string) string {
	for i := 0; i+1 < len(rule); i++ {
		if rule[i] == "-j" || rule[i] == "-g" {
			return rule[i+1]
		}
	}
	return ""
}

// cgroupRoot is where cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// removeCgroups removes the pods' cgroup directories (cgroupfs layout: the
// same relative path under every v1 controller, or once under a v2 root),
// and their parents up to the top when they are left empty. Directories
// still in use stay.
func removeCgroups(parents []string, log *slog.Logger) {
	if len(parents) == 0 {
		return
	}
	roots := []string{cgroupRoot}
	if entries, err := os.ReadDir(cgroupRoot); err == nil {
		for _, e := range entries {
			if e.IsDir() && e.Type()&fs.ModeSymlink == 0 {
				roots = append(roots, filepath.Join(cgroupRoot, e.Name()))
			}
		}
	}
	for _, parent := range parents {
		rel := filepath.Clean("/" + parent)
		if rel == "/" {
			continue
		}
		for _, root := range roots {
			// Container cgroups a killed runc never removed first.
			var dirs []string
			_ = filepath.WalkDir(filepath.Join(root, rel), func(path string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, path)
				}
				return nil
			})
			for i := len(dirs) - 1; i >= 1; i-- {
				_ = syscall.Rmdir(dirs[i])
			}
			for dir := rel; dir != "/"; dir = filepath.Dir(dir) {
				err := syscall.Rmdir(filepath.Join(root, dir))
				if errors.Is(err, syscall.ENOENT) {
					continue
				}
				if err != nil {
					if !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EBUSY) {
						log.Warn("cannot remove a pod cgroup", "path", filepath.Join(root, dir), "err", err)
					}
					break
				}
			}
		}
	}
}
