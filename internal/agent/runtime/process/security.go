package process

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// identity is what a container's processes (and the commands exec'd in
// it) run as, decided from its CRI security context.
type identity struct {
	// cred switches user and groups; nil keeps the agent's.
	cred *syscall.Credential
	// bounding is the capability bounding set (a bit per capability); a
	// process running as root gets exactly these. nil keeps the agent's
	// (privileged).
	bounding *uint64
	// noNewPrivs sets no_new_privs: no setuid bits or file capabilities
	// raise the process's privileges.
	noNewPrivs bool
}

// defaultCapabilities are the capabilities a container gets when its
// security context names none: those of containerd's and CRI-O's default
// set.
var defaultCapabilities = []string{
	"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
	"SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
}

// capabilityNumbers are the Linux capabilities by name (without CAP_).
var capabilityNumbers = map[string]int{
	"CHOWN": unix.CAP_CHOWN, "DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE, "DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH,
	"FOWNER": unix.CAP_FOWNER, "FSETID": unix.CAP_FSETID, "KILL": unix.CAP_KILL, "SETGID": unix.CAP_SETGID,
	"SETUID": unix.CAP_SETUID, "SETPCAP": unix.CAP_SETPCAP, "LINUX_IMMUTABLE": unix.CAP_LINUX_IMMUTABLE,
	"NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE, "NET_BROADCAST": unix.CAP_NET_BROADCAST,
	"NET_ADMIN": unix.CAP_NET_ADMIN, "NET_RAW": unix.CAP_NET_RAW, "IPC_LOCK": unix.CAP_IPC_LOCK,
	"IPC_OWNER": unix.CAP_IPC_OWNER, "SYS_MODULE": unix.CAP_SYS_MODULE, "SYS_RAWIO": unix.CAP_SYS_RAWIO,
	"SYS_CHROOT": unix.CAP_SYS_CHROOT, "SYS_PTRACE": unix.CAP_SYS_PTRACE, "SYS_PACCT": unix.CAP_SYS_PACCT,
	"SYS_ADMIN": unix.CAP_SYS_ADMIN, "SYS_BOOT": unix.CAP_SYS_BOOT, "SYS_NICE": unix.CAP_SYS_NICE,
	"SYS_RESOURCE": unix.CAP_SYS_RESOURCE, "SYS_TIME": unix.CAP_SYS_TIME, "SYS_TTY_CONFIG": unix.CAP_SYS_TTY_CONFIG,
	"MKNOD": unix.CAP_MKNOD, "LEASE": unix.CAP_LEASE, "AUDIT_WRITE": unix.CAP_AUDIT_WRITE,
	"AUDIT_CONTROL": unix.CAP_AUDIT_CONTROL, "SETFCAP": unix.CAP_SETFCAP, "MAC_OVERRIDE": unix.CAP_MAC_OVERRIDE,
	"MAC_ADMIN": unix.CAP_MAC_ADMIN, "SYSLOG": unix.CAP_SYSLOG, "WAKE_ALARM": unix.CAP_WAKE_ALARM,
	"BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND, "AUDIT_READ": unix.CAP_AUDIT_READ, "PERFMON": unix.CAP_PERFMON,
	"BPF": unix.CAP_BPF, "CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// users looks up the accounts of the host (whose files a container of
// the process runtime runs on).
type users interface {
	// user returns the primary group and the supplementary groups of the
	// user with uid, or ok false when the host has no such user.
	user(uid int64) (gid int64, groups []int64, ok bool)
	// uid is the uid of the user called name.
	uid(name string) (int64, error)
}

// decideIdentity maps a container's security context to its process
// identity. self is the uid the agent runs as: an agent that is not root
// can neither switch users nor limit capabilities, and refuses a container
// that asks for another user.
func decideIdentity(sc *runtimeapi.LinuxContainerSecurityContext, db users, self int64) (identity, error) {
	var id identity
	id.noNewPrivs = sc.GetNoNewPrivs()
	if !sc.GetPrivileged() && self == 0 {
		set, err := capabilitySet(sc.GetCapabilities())
		if err != nil {
			return identity{}, err
		}
		id.bounding = &set
	}
	uid := self
	switch {
	case sc.GetRunAsUser() != nil:
		uid = sc.GetRunAsUser().GetValue()
	case sc.GetRunAsUsername() != "":
		u, err := db.uid(sc.GetRunAsUsername())
		if err != nil {
			return identity{}, err
		}
		uid = u
	}
	gid, groups, known := db.user(uid)
	if !known {
		gid, groups = 0, nil
	}
	if sc.GetRunAsGroup() != nil {
		gid = sc.GetRunAsGroup().GetValue()
	}
	all := []int64{gid}
	if sc.GetSupplementalGroupsPolicy() == runtimeapi.SupplementalGroupsPolicy_Merge {
		all = append(all, groups...)
	}
	all = append(all, sc.GetSupplementalGroups()...)
	if self != 0 {
		if uid != self || sc.GetRunAsGroup() != nil || len(sc.GetSupplementalGroups()) > 0 {
			return identity{}, fmt.Errorf("the process runtime runs as uid %d and cannot run a container as another user or group", self)
		}
		return id, nil
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	seen := map[int64]bool{}
	for _, g := range all {
		if !seen[g] {
			seen[g] = true
			cred.Groups = append(cred.Groups, uint32(g))
		}
	}
	id.cred = cred
	return id, nil
}

// capabilitySet is the bounding set of an unprivileged container: the
// default set, then "ALL" added or dropped, then each capability added and
// each dropped (as containerd applies them).
func capabilitySet(c *runtimeapi.Capability) (uint64, error) {
	var set uint64
	bit := func(name string) (uint64, error) {
		n, ok := capabilityNumbers[strings.TrimPrefix(strings.ToUpper(name), "CAP_")]
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", name)
		}
		return 1 << n, nil
	}
	for _, name := range defaultCapabilities {
		b, _ := bit(name)
		set |= b
	}
	if c == nil {
		return set, nil
	}
	isAll := func(s string) bool { return strings.EqualFold(s, "ALL") }
	if slices.ContainsFunc(c.AddCapabilities, isAll) {
		for _, n := range capabilityNumbers {
			set |= 1 << n
		}
	}
	if slices.ContainsFunc(c.DropCapabilities, isAll) {
		set = 0
	}
	for _, name := range c.AddCapabilities {
		if isAll(name) {
			continue
		}
		b, err := bit(name)
		if err != nil {
			return 0, err
		}
		set |= b
	}
	for _, name := range c.DropCapabilities {
		if isAll(name) {
			continue
		}
		b, err := bit(name)
		if err != nil {
			return 0, err
		}
		set &^= b
	}
	return set, nil
}

// apply sets what the identity needs on the calling thread, which is about
// to fork the container's process and is then discarded: the bounding
// set, no inheritable or ambient capabilities, and no_new_privs. The
// user and groups are switched in the child (cmd.SysProcAttr.Credential).
func (id identity) apply() error {
	if id.bounding != nil {
		last := lastCapability()
		for n := 0; n <= last; n++ {
			if *id.bounding&(1<<n) != 0 {
				continue
			}
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(n), 0, 0, 0); err != nil {
				return fmt.Errorf("drop capability %d: %w", n, err)
			}
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
			return fmt.Errorf("clear ambient capabilities: %w", err)
		}
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return fmt.Errorf("read capabilities: %w", err)
		}
		data[0].Inheritable, data[1].Inheritable = 0, 0
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			return fmt.Errorf("clear inheritable capabilities: %w", err)
		}
	}
	if id.noNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	return nil
}

// lastCapability is the highest capability the kernel knows (or this
// build, when /proc does not say).
func lastCapability() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return unix.CAP_LAST_CAP
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return unix.CAP_LAST_CAP
	}
	return n
}

// hostUsers reads the host's /etc/passwd and /etc/group.
type hostUsers struct{}

func (hostUsers) user(uid int64) (int64, []int64, bool) {
	u, err := user.LookupId(strconv.FormatInt(uid, 10))
	if err != nil {
		return 0, nil, false
	}
	gid, _ := strconv.ParseInt(u.Gid, 10, 64)
	var groups []int64
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.ParseInt(s, 10, 64); err == nil {
				groups = append(groups, g)
			}
		}
	}
	return gid, groups, true
}

func (hostUsers) uid(name string) (int64, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, fmt.Errorf("user %q: %w", name, err)
	}
	return strconv.ParseInt(u.Uid, 10, 64)
}
