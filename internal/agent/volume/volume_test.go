package volume

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testPod(volumes ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "prod", UID: "uid-1", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "runner",
			Volumes:            volumes,
			Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
			}}},
		},
		Status: corev1.PodStatus{PodIP: "10.0.0.7"},
	}
}

func objects() []runtime.Object {
	return []runtime.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "prod"},
			Data: map[string]string{"model.yaml": "name: m1\n", "port": "8080"}, BinaryData: map[string][]byte{"blob": {0, 1, 2}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gcp-credentials", Namespace: "prod"},
			Data: map[string][]byte{"key.json": []byte(`{"k":1}`)}},
	}
}

// visible lists the names a container sees in dir (as "name=content mode"),
// reading through the symlinks.
func visible(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if strings.HasPrefix(rel, "..") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		if info.IsDir() {
			// A top-level link to a directory of nested paths.
			return filepath.WalkDir(path+string(filepath.Separator), func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				fi, _ := os.Stat(p)
				r, _ := filepath.Rel(dir, p)
				out = append(out, r+"="+string(b)+" "+fi.Mode().Perm().String())
				return nil
			})
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out = append(out, rel+"="+string(b)+" "+info.Mode().Perm().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestSetupFileVolumes(t *testing.T) {
	tests := []struct {
		name    string
		vol     corev1.VolumeSource
		want    []string
		wantErr string
	}{
		{
			name: "configMap, every key",
			vol:  corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			want: []string{"blob=\x00\x01\x02 -rw-r--r--", "model.yaml=name: m1\n -rw-r--r--", "port=8080 -rw-r--r--"},
		},
		{
			name: "configMap items with paths and modes",
			vol: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, DefaultMode: ptr.To[int32](0o600),
				Items: []corev1.KeyToPath{{Key: "model.yaml", Path: "conf/model.yaml"}, {Key: "port", Path: "port.txt", Mode: ptr.To[int32](0o444)}},
			}},
			want: []string{"conf/model.yaml=name: m1\n -rw-------", "port.txt=8080 -r--r--r--"},
		},
		{
			name:    "missing configMap",
			vol:     corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}},
			wantErr: `MountVolume.SetUp failed for volume "v" : configmap "nope" not found`,
		},
		{
			name: "missing optional configMap",
			vol:  corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Optional: ptr.To(true)}},
		},
		{
			name: "missing configMap key",
			vol: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
				Items: []corev1.KeyToPath{{Key: "other", Path: "o"}}}},
			wantErr: `MountVolume.SetUp failed for volume "v" : configmap references non-existent config key: other`,
		},
		{
			name: "secret",
			vol:  corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "gcp-credentials", DefaultMode: ptr.To[int32](0o400)}},
			want: []string{`key.json={"k":1} -r--------`},
		},
		{
			name:    "missing secret",
			vol:     corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "nope"}},
			wantErr: `MountVolume.SetUp failed for volume "v" : secret "nope" not found`,
		},
		{
			name: "downwardAPI",
			vol: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
				{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
				{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.cpu"}},
			}}},
			want: []string{`cpu=2 -rw-r--r--`, `labels=app="web" -rw-r--r--`, `mem=64 -rw-r--r--`, `name=web -rw-r--r--`},
		},
		{
			name: "projected",
			vol: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Items: []corev1.KeyToPath{{Key: "port", Path: "port"}}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "gcp-credentials"}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
			}}},
			want: []string{`key.json={"k":1} -rw-r--r--`, "namespace=prod -rw-r--r--", "port=8080 -rw-r--r--", "token=token-for-runner -rw-r--r--"},
		},
		{
			name: "clusterTrustBundle",
			vol: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Name: ptr.To("b"), Path: "ca.crt"}},
			}}},
			wantErr: `MountVolume.SetUp failed for volume "v" : clusterTrustBundle projections are not supported`,
		},
		{
			name:    "nfs",
			vol:     corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/x"}},
			wantErr: `MountVolume.SetUp failed for volume "v" : volume type nfs is not supported`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(objects()...)
			client.PrependReactor("create", "serviceaccounts", tokenReactor(nil))
			m := NewManager(client, t.TempDir(), quiet)
			m.SetNodeAllocatable(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")})
			paths, err := m.Setup(context.Background(), testPod(corev1.Volume{Name: "v", VolumeSource: tt.vol}))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				var se *SetupError
				if !errors.As(err, &se) || se.Volume != "v" {
					t.Errorf("error %v is not a SetupError for v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := visible(t, paths["v"]); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("files =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// tokenReactor answers TokenRequests with "token-for-<sa>", or fails with
// err; it counts requests in *n when n is set.
func tokenReactor(n *int, err ...error) clienttesting.ReactionFunc {
	return func(action clienttesting.Action) (bool, runtime.Object, error) {
		create, ok := action.(clienttesting.CreateAction)
		if !ok || action.GetSubresource() != "token" {
			return false, nil, nil
		}
		if n != nil {
			*n++
		}
		if len(err) > 0 && err[0] != nil {
			return true, nil, err[0]
		}
		req := create.GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		name := action.(clienttesting.CreateActionImpl).Name
		req.Status.Token = "token-for-" + name
		req.Status.ExpirationTimestamp = metav1.NewTime(time.Now().Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second))
		return true, req, nil
	}
}

func TestConfigMapUpdateReachesPod(t *testing.T) {
	client := fake.NewClientset(objects()...)
	m := NewManager(client, t.TempDir(), quiet)
	pod := testPod(corev1.Volume{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}})
	ctx := context.Background()
	paths, err := m.Setup(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["cfg"]
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	first, _ := os.Readlink(filepath.Join(dir, "..data"))

	// No change: nothing rewritten.
	if _, err := m.Setup(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, "..data")); again != first {
		t.Errorf("unchanged ConfigMap rewrote the volume: %s -> %s", first, again)
	}

	cm, _ := client.CoreV1().ConfigMaps("prod").Get(ctx, "cfg", metav1.GetOptions{})
	cm.Data = map[string]string{"model.yaml": "name: m2\n", "new": "yes"}
	cm.BinaryData = nil
	if _, err := client.CoreV1().ConfigMaps("prod").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Setup(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if got := read("model.yaml"); got != "name: m2\n" {
		t.Errorf("model.yaml = %q after update", got)
	}
	if got := read("new"); got != "yes" {
		t.Errorf("new = %q after update", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "port")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removed key still visible: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	var dataDirs []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "..") {
			dataDirs = append(dataDirs, e.Name())
		}
	}
	if len(dataDirs) != 1 || dataDirs[0] == first {
		t.Errorf("data dirs after update: %v (first %s)", dataDirs, first)
	}
	if info, err := os.Lstat(filepath.Join(dir, "model.yaml")); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("model.yaml is not a symlink through ..data: %v", err)
	}
}

func TestServiceAccountToken(t *testing.T) {
	client := fake.NewClientset()
	var requests int
	client.PrependReactor("create", "serviceaccounts", tokenReactor(&requests))
	m := NewManager(client, t.TempDir(), quiet)
	now := time.Now() // the fake API server's clock
	m.Now = func() time.Time { return now }
	pod := testPod(corev1.Volume{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", Audience: "vault", ExpirationSeconds: ptr.To[int64](3600)}},
	}}}})
	ctx := context.Background()
	setup := func() {
		t.Helper()
		if _, err := m.Setup(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	setup()
	now = now.Add(40 * time.Minute)
	setup()
	if requests != 1 {
		t.Errorf("%d token requests within 40 minutes of an hour-long token, want 1", requests)
	}
	now = now.Add(10 * time.Minute)
	setup()
	if requests != 2 {
		t.Errorf("%d token requests after 50 minutes, want 2", requests)
	}

	// A failing TokenRequest API: no file, no error.
	failing := fake.NewClientset()
	failing.PrependReactor("create", "serviceaccounts", tokenReactor(nil, errors.New("forbidden")))
	m = NewManager(failing, t.TempDir(), quiet)
	paths, err := m.Setup(ctx, pod)
	if err != nil {
		t.Fatalf("Setup with failing token requests: %v", err)
	}
	if _, err := os.Stat(filepath.Join(paths["token"], "token")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("token file written although the request failed: %v", err)
	}
}

func TestHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tests := []struct {
		path    string
		typ     corev1.HostPathType
		wantErr string
	}{
		{dir, corev1.HostPathDirectory, ""},
		{file, corev1.HostPathDirectory, "hostPath type check failed: " + file + " is not a directory"},
		{filepath.Join(dir, "missing"), corev1.HostPathDirectory, "hostPath type check failed: " + dir + "/missing is not a directory"},
		{filepath.Join(dir, "made/deep"), corev1.HostPathDirectoryOrCreate, ""},
		{file, corev1.HostPathFile, ""},
		{dir, corev1.HostPathFile, "hostPath type check failed: " + dir + " is not a file"},
		{filepath.Join(dir, "newfile"), corev1.HostPathFileOrCreate, ""},
		{sock, corev1.HostPathSocket, ""},
		{file, corev1.HostPathSocket, "hostPath type check failed: " + file + " is not a socket file"},
		{"/dev/null", corev1.HostPathCharDev, ""},
		{file, corev1.HostPathBlockDev, "hostPath type check failed: " + file + " is not a block device"},
		{filepath.Join(dir, "anything"), corev1.HostPathUnset, ""},
	}
	m := NewManager(fake.NewClientset(), t.TempDir(), quiet)
	for _, tt := range tests {
		paths, err := m.Setup(context.Background(), testPod(corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: tt.path, Type: ptr.To(tt.typ)}}}))
		if tt.wantErr != "" {
			if want := `MountVolume.SetUp failed for volume "h" : ` + tt.wantErr; err == nil || err.Error() != want {
				t.Errorf("%s %s: error %v, want %q", tt.typ, tt.path, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s: %v", tt.typ, tt.path, err)
			continue
		}
		if paths["h"] != tt.path {
			t.Errorf("path %q, want %q", paths["h"], tt.path)
		}
		if tt.typ == corev1.HostPathDirectoryOrCreate || tt.typ == corev1.HostPathFileOrCreate {
			if _, err := os.Stat(tt.path); err != nil {
				t.Errorf("%s not created: %v", tt.path, err)
			}
		}
	}
}

func TestEmptyDirAndTeardown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting tmpfs needs root")
	}
	podsDir := t.TempDir()
	m := NewManager(fake.NewClientset(), podsDir, quiet)
	pod := testPod(
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		corev1.Volume{Name: "shm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("1Mi"))}}},
	)
	ctx := context.Background()
	var paths map[string]string
	for range 2 { // a second sync mounts nothing more
		var err error
		if paths, err = m.Setup(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	if info, err := os.Stat(paths["scratch"]); err != nil || !info.IsDir() || info.Mode().Perm() != 0o777 {
		t.Errorf("scratch: %v %v", info, err)
	}
	if got := mountsAt(t, paths["shm"]); got != 1 {
		t.Fatalf("tmpfs mounted %d times on %s, want 1", got, paths["shm"])
	}
	// The size limit holds: 2 MiB does not fit.
	err := os.WriteFile(filepath.Join(paths["shm"], "big"), make([]byte, 2<<20), 0o644)
	if err == nil {
		t.Error("wrote 2MiB into a 1Mi tmpfs")
	}
	if err := m.Teardown(ctx, pod.UID); err != nil {
		t.Fatal(err)
	}
	if got := mountsAt(t, paths["shm"]); got != 0 {
		t.Errorf("tmpfs still mounted after teardown")
	}
	if _, err := os.Stat(filepath.Join(podsDir, string(pod.UID))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pod dir left after teardown: %v", err)
	}
	if err := m.Teardown(ctx, pod.UID); err != nil {
		t.Errorf("second teardown: %v", err)
	}
}

func mountsAt(t *testing.T, dir string) int {
	t.Helper()
	points, err := mountPoints()
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		resolved = dir
	}
	n := 0
	for _, p := range points {
		if p == resolved {
			n++
		}
	}
	return n
}

func TestMounts(t *testing.T) {
	client := fake.NewClientset(objects()...)
	m := NewManager(client, t.TempDir(), quiet)
	outside := t.TempDir()
	pod := testPod(
		corev1.Volume{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	)
	paths, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(paths["data"], "escape")); err != nil {
		t.Fatal(err)
	}
	hostToContainer := corev1.MountPropagationHostToContainer
	c := &pod.Spec.Containers[0]
	c.Env = []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
	c.VolumeMounts = []corev1.VolumeMount{
		{Name: "cfg", MountPath: "/etc/model"},
		{Name: "cfg", MountPath: "/etc/port", SubPath: "port"},
		{Name: "data", MountPath: "/data", MountPropagation: &hostToContainer},
		{Name: "data", MountPath: "/logs", SubPathExpr: "logs/$(POD)", ReadOnly: true},
	}
	mounts, err := Mounts(pod, c, paths)
	if err != nil {
		t.Fatal(err)
	}
	portFile, _ := filepath.EvalSymlinks(filepath.Join(paths["cfg"], "port"))
	want := []*runtimeapi.Mount{
		{ContainerPath: "/etc/model", HostPath: paths["cfg"], Readonly: true},
		{ContainerPath: "/etc/port", HostPath: portFile, Readonly: true},
		{ContainerPath: "/data", HostPath: paths["data"], Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER},
		{ContainerPath: "/logs", HostPath: filepath.Join(paths["data"], "logs/web"), Readonly: true},
	}
	if len(mounts) != len(want) {
		t.Fatalf("got %d mounts, want %d", len(mounts), len(want))
	}
	for i := range want {
		g, w := mounts[i], want[i]
		if g.ContainerPath != w.ContainerPath || g.HostPath != w.HostPath || g.Readonly != w.Readonly || g.Propagation != w.Propagation {
			t.Errorf("mount %d = %v, want %v", i, g, w)
		}
	}
	if info, err := os.Stat(filepath.Join(paths["data"], "logs/web")); err != nil || !info.IsDir() {
		t.Errorf("subPathExpr directory not made: %v", err)
	}

	for _, tt := range []struct {
		vm      corev1.VolumeMount
		wantErr string
	}{
		{corev1.VolumeMount{Name: "nope", MountPath: "/x"}, `cannot find volume "nope" to mount into container "app"`},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "../up"}, `volume "data" subPath "../up" for container "app": must not contain '..'`},
		{corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "escape"}, "outside the volume"},
	} {
		c.VolumeMounts = []corev1.VolumeMount{tt.vm}
		if _, err := Mounts(pod, c, paths); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%+v: error %v, want %q", tt.vm, err, tt.wantErr)
		}
	}
}
