package process

import (
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeUsers has user 1000 (alice, primary group 1000, also in 27) only.
type fakeUsers struct{}

func (fakeUsers) user(uid int64) (int64, []int64, bool) {
	if uid == 1000 {
		return 1000, []int64{1000, 27}, true
	}
	if uid == 0 {
		return 0, []int64{0}, true
	}
	return 0, nil, false
}

func (fakeUsers) uid(name string) (int64, error) {
	if name == "alice" {
		return 1000, nil
	}
	return 0, fmt.Errorf("user %q: unknown user", name)
}

func bits(caps ...int) *uint64 {
	var b uint64
	for _, c := range caps {
		b |= 1 << c
	}
	return &b
}

func TestDecideIdentity(t *testing.T) {
	defaults := bits(unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FSETID, unix.CAP_FOWNER, unix.CAP_MKNOD, unix.CAP_NET_RAW,
		unix.CAP_SETGID, unix.CAP_SETUID, unix.CAP_SETFCAP, unix.CAP_SETPCAP, unix.CAP_NET_BIND_SERVICE, unix.CAP_SYS_CHROOT,
		unix.CAP_KILL, unix.CAP_AUDIT_WRITE)
	all := uint64(0)
	for _, n := range capabilityNumbers {
		all |= 1 << n
	}
	i64 := func(v int64) *runtimeapi.Int64Value { return &runtimeapi.Int64Value{Value: v} }
	tests := []struct {
		name    string
		sc      *runtimeapi.LinuxContainerSecurityContext
		self    int64
		want    identity
		wantErr string
	}{
		{name: "no context: root with the default capabilities", sc: nil,
			want: identity{cred: &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{0}}, bounding: defaults}},
		{name: "runAsUser takes the user's groups", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1000)},
			want: identity{cred: &syscall.Credential{Uid: 1000, Gid: 1000, Groups: []uint32{1000, 27}}, bounding: defaults}},
		{name: "unknown user: gid 0", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(2000)},
			want: identity{cred: &syscall.Credential{Uid: 2000, Gid: 0, Groups: []uint32{0}}, bounding: defaults}},
		{name: "runAsGroup, supplemental groups, no_new_privs", sc: &runtimeapi.LinuxContainerSecurityContext{
			RunAsUser: i64(1000), RunAsGroup: i64(3000), SupplementalGroups: []int64{4000, 3000}, NoNewPrivs: true},
			want: identity{cred: &syscall.Credential{Uid: 1000, Gid: 3000, Groups: []uint32{3000, 1000, 27, 4000}}, bounding: defaults, noNewPrivs: true}},
		{name: "strict policy leaves out the user's groups", sc: &runtimeapi.LinuxContainerSecurityContext{
			RunAsUser: i64(1000), SupplementalGroups: []int64{4000}, SupplementalGroupsPolicy: runtimeapi.SupplementalGroupsPolicy_Strict},
			want: identity{cred: &syscall.Credential{Uid: 1000, Gid: 1000, Groups: []uint32{1000, 4000}}, bounding: defaults}},
		{name: "user name", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "alice"},
			want: identity{cred: &syscall.Credential{Uid: 1000, Gid: 1000, Groups: []uint32{1000, 27}}, bounding: defaults}},
		{name: "unknown user name", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "bob"}, wantErr: `user "bob"`},
		{name: "drop ALL, add two", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(0),
			Capabilities: &runtimeapi.Capability{DropCapabilities: []string{"ALL"}, AddCapabilities: []string{"NET_ADMIN", "CAP_chown"}}},
			want: identity{cred: &syscall.Credential{Groups: []uint32{0}}, bounding: bits(unix.CAP_NET_ADMIN, unix.CAP_CHOWN)}},
		{name: "add ALL, drop one", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(0),
			Capabilities: &runtimeapi.Capability{AddCapabilities: []string{"ALL"}, DropCapabilities: []string{"SYS_ADMIN"}}},
			want: identity{cred: &syscall.Credential{Groups: []uint32{0}}, bounding: ptrTo(all &^ (1 << unix.CAP_SYS_ADMIN))}},
		{name: "drop from the defaults", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(0),
			Capabilities: &runtimeapi.Capability{DropCapabilities: []string{"NET_RAW"}}},
			want: identity{cred: &syscall.Credential{Groups: []uint32{0}}, bounding: ptrTo(*defaults &^ (1 << unix.CAP_NET_RAW))}},
		{name: "unknown capability", sc: &runtimeapi.LinuxContainerSecurityContext{
			Capabilities: &runtimeapi.Capability{AddCapabilities: []string{"FLY"}}}, wantErr: `unknown capability "FLY"`},
		{name: "privileged keeps every capability", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(0), Privileged: true,
			Capabilities: &runtimeapi.Capability{DropCapabilities: []string{"ALL"}}},
			want: identity{cred: &syscall.Credential{Groups: []uint32{0}}}},
		{name: "agent not root: runs as the agent", self: 1000, sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1000), NoNewPrivs: true},
			want: identity{noNewPrivs: true}},
		{name: "agent not root: another user refused", self: 1000, sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(0)},
			wantErr: "runs as uid 1000 and cannot run a container as another user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decideIdentity(tt.sc, fakeUsers{}, tt.self)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("identity %s, want %s", show(got), show(tt.want))
			}
		})
	}
}

func ptrTo(v uint64) *uint64 { return &v }

func show(id identity) string {
	b := "nil"
	if id.bounding != nil {
		b = fmt.Sprintf("%#x", *id.bounding)
	}
	return fmt.Sprintf("{cred %+v bounding %s noNewPrivs %v}", id.cred, b, id.noNewPrivs)
}
