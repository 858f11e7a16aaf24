package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/image"
)

// conformanceImagesDir holds `make conformance-images`' tarballs; without
// them the test skips, unless SKIFF_CONFORMANCE_IMAGES names the directory
// (make e2e), which makes their absence a failure.
func conformanceImagesDir(t *testing.T) string {
	t.Helper()
	dir, required := os.LookupEnv("SKIFF_CONFORMANCE_IMAGES")
	if !required {
		dir = filepath.Join(repoRoot, "build", "conformance-images")
	}
	if _, err := os.Stat(filepath.Join(dir, "agnhost.tar")); err != nil {
		if required {
			t.Fatalf("no conformance images in %s (make conformance-images): %v", dir, err)
		}
		t.Skipf("no conformance images in %s (make conformance-images)", dir)
	}
	return dir
}

// TestConformanceImages runs the images the conformance suite uses, loaded
// with `skiff image load`, on containerd as the suite runs them: agnhost's
// netexec answering its own curl (TCP) and nc (UDP), the nginx substitute
// answering on port 80 across the pod network, and nonewprivs showing that
// allowPrivilegeEscalation: false keeps its setuid bit from taking effect.
func TestConformanceImages(t *testing.T) {
	dir := conformanceImagesDir(t)
	n := startNodeSuite(t, "cri")
	s, c := n.s, n.s.client()

	tars, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil {
		t.Fatal(err)
	}
	ref := map[string]string{} // tarball -> its last name in sort order (agnhost: 2.66.1, not 2.55)
	for _, tar := range tars {
		tags, err := image.Tags(tar)
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(tags)
		ref[filepath.Base(tar)] = tags[len(tags)-1]
	}
	out, err := exec.Command(skiffBin, append([]string{"image", "load", "--data-dir", filepath.Join(s.dataDir, "agent")}, tars...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("skiff image load: %v\n%s", err, out)
	}
	for _, r := range ref {
		if !strings.Contains(string(out), "loaded "+r+"\n") {
			t.Errorf("skiff image load did not load %s:\n%s", r, out)
		}
	}

	const ns = "conformance-images"
	s.ok("create", "namespace", ns)
	n.createPod(ns, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "netexec"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "agnhost", Image: ref["agnhost.tar"], ImagePullPolicy: corev1.PullIfNotPresent,
			Args: []string{"netexec", "--http-port=8080", "--udp-port=8081"},
		}}},
	})
	n.createPod(ns, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "nginx", Image: ref["nginx.tar"], ImagePullPolicy: corev1.PullIfNotPresent,
		}}},
	})
	n.createPod(ns, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nnp"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "nnp", Image: ref["nonewprivs.tar"], ImagePullPolicy: corev1.PullIfNotPresent,
			SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](1000), AllowPrivilegeEscalation: ptr.To(false)},
		}}},
	})
	running := func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" }
	n.waitPod(ns, "netexec", 90*time.Second, "Running", running)
	nginx := n.waitPod(ns, "nginx", 90*time.Second, "Running", running)

	inPod := func(script string) string {
		r := s.kubectl("", nil, "exec", "-n", ns, "netexec", "--", "sh", "-c", script)
		return r.Stdout
	}
	eventually(t, 30*time.Second, "netexec answering its own curl with its hostname", func() bool {
		return inPod("curl -g -q -s --connect-timeout 1 http://127.0.0.1:8080/hostname") == "netexec"
	})
	eventually(t, 30*time.Second, "netexec answering nc over UDP", func() bool {
		return strings.TrimSpace(inPod("echo hostName | nc -u -w 1 127.0.0.1 8081")) == "netexec"
	})
	eventually(t, 30*time.Second, "the nginx substitute answering on port 80 across the pod network", func() bool {
		return strings.Contains(inPod("curl -s -o /dev/null -w '%{http_code}' http://"+nginx.Status.PodIP+"/"), "200")
	})

	n.waitPod(ns, "nnp", 90*time.Second, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	logs, err := c.CoreV1().Pods(ns).GetLogs("nnp", &corev1.PodLogOptions{}).DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(logs)); got != "Effective uid: 1000" {
		t.Errorf("nonewprivs with allowPrivilegeEscalation: false printed %q, want \"Effective uid: 1000\"", got)
	}
}
