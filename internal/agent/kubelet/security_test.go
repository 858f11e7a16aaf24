package kubelet

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/kubernetes/pkg/securitycontext"
	"k8s.io/utils/ptr"
)

func TestContainerSecurityContext(t *testing.T) {
	pod := func(psc *corev1.PodSecurityContext, sc *corev1.SecurityContext) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"},
			Spec:       corev1.PodSpec{SecurityContext: psc, Containers: []corev1.Container{{Name: "c", SecurityContext: sc}}},
		}
	}
	root := imageUser{uid: ptr.To[int64](0)}
	i64 := func(v int64) *runtimeapi.Int64Value { return &runtimeapi.Int64Value{Value: v} }
	ns := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD}
	base := func(f func(*runtimeapi.LinuxContainerSecurityContext)) *runtimeapi.LinuxContainerSecurityContext {
		sc := &runtimeapi.LinuxContainerSecurityContext{
			NamespaceOptions: ns, RunAsUser: i64(0), NoNewPrivs: false,
			MaskedPaths: securitycontext.ConvertToRuntimeMaskedPaths(nil), ReadonlyPaths: securitycontext.ConvertToRuntimeReadonlyPaths(nil),
			Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined},
		}
		if f != nil {
			f(sc)
		}
		return sc
	}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		image   imageUser
		want    *runtimeapi.LinuxContainerSecurityContext
		wantErr string
	}{
		{name: "nothing set: the image's user", pod: pod(nil, nil), image: root, want: base(nil)},
		{name: "image runs as a name", pod: pod(nil, nil), image: imageUser{username: "app"},
			want: base(func(sc *runtimeapi.LinuxContainerSecurityContext) { sc.RunAsUser, sc.RunAsUsername = nil, "app" })},
		{
			name: "pod user and groups, container override",
			pod: pod(&corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](3000), FSGroup: ptr.To[int64](2000),
				SupplementalGroups: []int64{4000}, SupplementalGroupsPolicy: ptr.To(corev1.SupplementalGroupsPolicyStrict)},
				&corev1.SecurityContext{RunAsUser: ptr.To[int64](1001)}),
			image: root,
			want: base(func(sc *runtimeapi.LinuxContainerSecurityContext) {
				sc.RunAsUser, sc.RunAsGroup = i64(1001), i64(3000)
				sc.SupplementalGroups, sc.SupplementalGroupsPolicy = []int64{2000, 4000}, runtimeapi.SupplementalGroupsPolicy_Strict
			}),
		},
		{
			name: "restricted container",
			pod: pod(&corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
				&corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}}}),
			image: imageUser{uid: ptr.To[int64](65532)},
			want: base(func(sc *runtimeapi.LinuxContainerSecurityContext) {
				sc.RunAsUser, sc.NoNewPrivs, sc.ReadonlyRootfs = i64(65532), true, true
				sc.Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"NET_BIND_SERVICE"}, DropCapabilities: []string{"ALL"}}
				sc.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
			}),
		},
		{
			name:  "privileged may escalate; container seccomp over pod's",
			pod:   pod(&corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}, &corev1.SecurityContext{Privileged: ptr.To(true), AllowPrivilegeEscalation: ptr.To(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("p.json")}}),
			image: root,
			want: base(func(sc *runtimeapi.LinuxContainerSecurityContext) {
				sc.Privileged = true
				sc.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/seccomp/p.json"}
			}),
		},
		{
			name: "host namespaces",
			pod: func() *corev1.Pod {
				p := pod(nil, nil)
				p.Spec.HostNetwork, p.Spec.HostPID, p.Spec.HostIPC = true, true, true
				return p
			}(),
			image: root,
			want: base(func(sc *runtimeapi.LinuxContainerSecurityContext) {
				sc.NamespaceOptions = &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_NODE, Ipc: runtimeapi.NamespaceMode_NODE}
			}),
		},
		{name: "runAsNonRoot on a root image", pod: pod(&corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}, nil), image: root,
			wantErr: `container has runAsNonRoot and image will run as root (pod: "p_ns(u1)", container: c)`},
		{name: "runAsNonRoot with runAsUser 0", pod: pod(nil, &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](0)}), image: root,
			wantErr: `container's runAsUser breaks non-root policy (pod: "p_ns(u1)", container: c)`},
		{name: "runAsNonRoot with a named image user", pod: pod(&corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}, nil), image: imageUser{username: "app"},
			wantErr: `container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root (pod: "p_ns(u1)", container: c)`},
		{name: "runAsNonRoot satisfied by runAsUser", pod: pod(&corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000)}, nil), image: root,
			want: base(func(sc *runtimeapi.LinuxContainerSecurityContext) { sc.RunAsUser = i64(1000) })},
		{name: "localhost profile without a name", pod: pod(nil, &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}}), image: root,
			wantErr: "localhostProfile must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := containerSecurityContext(tt.pod, &tt.pod.Spec.Containers[0], tt.image, "/seccomp")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got, protocmp.Transform()); d != "" {
				t.Errorf("security context (-want +got):\n%s", d)
			}
		})
	}
}

func TestImageUserOf(t *testing.T) {
	tests := []struct {
		name string
		img  *runtimeapi.Image
		want imageUser
	}{
		{"uid", &runtimeapi.Image{Uid: &runtimeapi.Int64Value{Value: 1000}}, imageUser{uid: ptr.To[int64](1000)}},
		{"name", &runtimeapi.Image{Username: "app"}, imageUser{username: "app"}},
		{"none is root", &runtimeapi.Image{}, imageUser{uid: ptr.To[int64](0)}},
		{"no image is root", nil, imageUser{uid: ptr.To[int64](0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := imageUserOf(tt.img); !cmp.Equal(got, tt.want, cmp.AllowUnexported(imageUser{})) {
				t.Errorf("imageUserOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSandboxSecurityContext(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{
		ShareProcessNamespace: ptr.To(true),
		SecurityContext:       &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), FSGroup: ptr.To[int64](2000)},
		InitContainers:        []corev1.Container{{Name: "init", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}},
		Containers:            []corev1.Container{{Name: "c"}},
	}}
	want := &runtimeapi.LinuxSandboxSecurityContext{
		NamespaceOptions:   &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_POD, Ipc: runtimeapi.NamespaceMode_POD},
		Privileged:         true,
		RunAsUser:          &runtimeapi.Int64Value{Value: 1000},
		SupplementalGroups: []int64{2000},
		Seccomp:            &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined},
	}
	if d := cmp.Diff(want, sandboxSecurityContext(p, "/seccomp"), protocmp.Transform()); d != "" {
		t.Errorf("sandbox security context (-want +got):\n%s", d)
	}
}
