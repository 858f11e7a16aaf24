package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Issue 4's acceptance suite: the seed's deployment and the pod lifecycle on
// real runtimes. TestNodeCRI runs it on containerd, TestNodeProcess on the
// process runtime (less the image-only cases).

// imagesDir holds `make images`' tarballs; modelServerBin the host binary
// the process runtime runs.
func imagesDir() string {
	if d := os.Getenv("SKIFF_IMAGES"); d != "" {
		return d
	}
	return filepath.Join(repoRoot, "build", "images")
}

func modelServerBin(t *testing.T) string {
	t.Helper()
	return staticBin(t, "MODEL_SERVER_BIN", "./cmd/model-server")
}

// staticBin is the binary the environment variable names (make e2e sets
// it), else pkg built static into the test's temporary directory.
func staticBin(t *testing.T, env, pkg string) string {
	t.Helper()
	if b := os.Getenv(env); b != "" {
		return b
	}
	b := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", b, pkg)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, out)
	}
	return b
}

// requireContainerd skips when containerd or the images are missing, unless
// SKIFF_REQUIRE_CONTAINERD=1 (CI) makes that a failure.
func requireContainerd(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := exec.LookPath("containerd"); err != nil {
		missing = append(missing, "containerd")
	}
	for _, f := range []string{"pause.tar", "model-server-v1.tar", "model-server-v2.tar"} {
		if _, err := os.Stat(filepath.Join(imagesDir(), f)); err != nil {
			missing = append(missing, f+" (make images)")
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("SKIFF_REQUIRE_CONTAINERD") == "1" {
		t.Fatalf("missing: %s", strings.Join(missing, ", "))
	}
	t.Skipf("missing: %s", strings.Join(missing, ", "))
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("real runtimes need root (network namespaces, cgroups)")
	}
}

// nodeSuite is a server whose own node runs one real runtime.
type nodeSuite struct {
	t       *testing.T
	s       *server
	runtime string
	node    string
	// cmd gives a container the model server's command: nil on cri (the
	// image's entrypoint), the host binary on the process runtime.
	model []string
	// shell is the POSIX shell of a container.
	shell string
	// fetch is the path of cmd/fetch in a container: the image's, or the
	// host binary on the process runtime.
	fetch string
}

func startNodeSuite(t *testing.T, rt string, extraArgs ...string) *nodeSuite {
	t.Helper()
	requireRoot(t)
	n := &nodeSuite{t: t, runtime: rt, node: "node-" + rt}
	args := []string{"--runtime=" + rt, "--node-name", n.node, "--kubelet-port", fmt.Sprint(freePort(t))}
	switch rt {
	case "cri":
		requireContainerd(t)
		args = append(args, "--pause-image", filepath.Join(imagesDir(), "pause.tar"))
		n.shell = "/bin/sh"
		n.fetch = "/bin/fetch"
	default:
		n.model = []string{modelServerBin(t)}
		n.shell = "/bin/sh"
		n.fetch = staticBin(t, "FETCH_BIN", "./cmd/fetch")
	}
	n.s = startServer(t, append(args, extraArgs...)...)
	c := n.s.client()
	eventually(t, 90*time.Second, "node "+n.node+" Ready", func() bool {
		node, err := c.CoreV1().Nodes().Get(context.Background(), n.node, metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status == corev1.ConditionTrue
			}
		}
		return false
	})
	if rt == "cri" {
		out, err := exec.Command(skiffBin, "image", "load", "--data-dir", filepath.Join(n.s.dataDir, "agent"),
			filepath.Join(imagesDir(), "model-server-v1.tar"), filepath.Join(imagesDir(), "model-server-v2.tar")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "localhost/skiff/model-server:v2") {
			t.Fatalf("skiff image load: %v\n%s", err, out)
		}
	}
	return n
}

// container is a model-server container spec for this runtime with args.
func (n *nodeSuite) container(name string, args ...string) corev1.Container {
	c := corev1.Container{Name: name, Image: "localhost/skiff/model-server:v2", Args: args,
		Ports: []corev1.ContainerPort{{ContainerPort: 8000}}}
	if n.model != nil {
		c.Command = n.model
	}
	return c
}

// shellContainer runs script with the container's shell.
func (n *nodeSuite) shellContainer(name, script string) corev1.Container {
	return corev1.Container{Name: name, Image: "localhost/skiff/model-server:v2", Command: []string{n.shell, "-c", script}}
}

func (n *nodeSuite) createPod(ns string, pod *corev1.Pod) {
	n.t.Helper()
	pod.Namespace = ns
	if _, err := n.s.client().CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		n.t.Fatal(err)
	}
}

// waitPod polls the pod until cond holds; on timeout it fails with the pod's
// status.
func (n *nodeSuite) waitPod(ns, name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	n.t.Helper()
	var last *corev1.Pod
	err := poll(200*time.Millisecond, timeout, func() error {
		p, err := n.s.client().CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		last = p
		if !cond(p) {
			return errors.New("condition not met")
		}
		return nil
	})
	if err != nil {
		n.t.Fatalf("pod %s/%s: timed out after %s waiting for %s; status: %+v", ns, name, timeout, what, last.Status)
	}
	return last
}

// killContainerProcesses SIGKILLs the processes of a container from the host,
// found by the container ID in their cgroup: what an OOM killer or a crash
// does to the server process.
func killContainerProcesses(t *testing.T, containerID string) int {
	t.Helper()
	_, id, _ := strings.Cut(containerID, "://")
	entries, _ := os.ReadDir("/proc")
	killed := 0
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err != nil || !strings.Contains(string(b), id) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	return killed
}

func TestNodeCRI(t *testing.T) { runNodeSuite(t, "cri") }

func TestNodeProcess(t *testing.T) { runNodeSuite(t, "process") }

func runNodeSuite(t *testing.T, rt string) {
	n := startNodeSuite(t, rt)
	s, c := n.s, n.s.client()

	// The seed's deployment, pointing at the in-repo model server.
	s.ok("create", "namespace", seedNS)
	s.ok("create", "secret", "generic", "gcp-credentials", "--from-literal=project_id=demo-gcp-project", "-n", seedNS)
	manifest, err := os.ReadFile(filepath.Join(manifests(), "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if rt == "process" {
		// The seed's container has only an image: the process runtime says
		// so on the pod.
		s.ok("apply", "-f", filepath.Join(manifests(), "deployment.yaml"))
		eventually(t, 60*time.Second, "CreateContainerError naming the missing command", func() bool {
			for _, p := range livePods(t, c, seedNS, "app=ml-model") {
				for _, cs := range p.Status.ContainerStatuses {
					if w := cs.State.Waiting; w != nil && w.Reason == "CreateContainerError" && strings.Contains(w.Message, "has no command") {
						return true
					}
				}
			}
			return false
		})
		if out := s.ok("get", "pods", "-n", seedNS); !strings.Contains(out, "CreateContainerError") {
			t.Fatalf("kubectl get pods does not show CreateContainerError:\n%s", out)
		}
		s.ok("delete", "deployment", "ml-model", "-n", seedNS)
	} else {
		// The seed's own image cannot be pulled here: ErrImagePull, then
		// ImagePullBackOff, with the runtime's message.
		s.ok("apply", "-f", filepath.Join(manifests(), "deployment.yaml"))
		eventually(t, 90*time.Second, "ImagePullBackOff for the seed's image", func() bool {
			for _, p := range livePods(t, c, seedNS, "app=ml-model") {
				for _, cs := range p.Status.ContainerStatuses {
					if w := cs.State.Waiting; w != nil && w.Reason == "ImagePullBackOff" && strings.Contains(w.Message, "gcr.io/my-project/ml-model:v2") {
						return true
					}
				}
			}
			return false
		})
		s.ok("delete", "deployment", "ml-model", "-n", seedNS)
	}
	seed := strings.ReplaceAll(string(manifest), "gcr.io/my-project/ml-model:v2", "localhost/skiff/model-server:v2")
	if rt == "process" {
		seed = strings.Replace(seed, "        image: localhost/skiff/model-server:v2\n",
			"        image: localhost/skiff/model-server:v2\n        command: [\""+n.model[0]+"\"]\n", 1)
	}
	eventually(t, 60*time.Second, "old seed pods gone", func() bool { return len(livePods(t, c, seedNS, "app=ml-model")) == 0 })
	r := s.kubectl(seed, nil, "apply", "-f", "-")
	if r.Code != 0 {
		t.Fatalf("apply: %s", r.Stderr)
	}
	eventually(t, 120*time.Second, "3 ml-model pods Running and Ready", func() bool { return readyRunning(t, c, seedNS, "app=ml-model", 3) })
	pods := livePods(t, c, seedNS, "app=ml-model")
	ips := map[string]bool{}
	for _, p := range pods {
		if p.Status.PodIP == "" || p.Spec.NodeName != n.node {
			t.Fatalf("pod %s: IP %q node %q", p.Name, p.Status.PodIP, p.Spec.NodeName)
		}
		ips[p.Status.PodIP] = true
		// The readiness probe (initialDelaySeconds 10) gated Ready.
		started := p.Status.ContainerStatuses[0].State.Running.StartedAt.Time
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.LastTransitionTime.Sub(started) < 9*time.Second {
				t.Fatalf("pod %s Ready %s after its container started; the readiness probe waits 10s", p.Name, cond.LastTransitionTime.Sub(started))
			}
		}
	}
	if len(ips) != 3 {
		t.Fatalf("pod IPs not distinct: %v", ips)
	}
	out := s.ok("get", "pods", "-n", seedNS, "-o", "wide")
	if strings.Count(out, "Running") != 3 || strings.Count(out, "1/1") != 3 {
		t.Fatalf("kubectl get pods:\n%s", out)
	}
	first := pods[0].Name

	// The secret's value is in the container's environment.
	if env := s.ok("exec", first, "-n", seedNS, "--", "env"); !strings.Contains(env, "GCP_PROJECT=demo-gcp-project") || !strings.Contains(env, "MODEL_VERSION=v2") {
		t.Fatalf("kubectl exec env:\n%s", env)
	}
	// kubectl logs shows the server's output.
	if logs := s.ok("logs", first, "-n", seedNS); !strings.Contains(logs, "listening on :8000") {
		t.Fatalf("kubectl logs:\n%s", logs)
	}
	if logs := s.ok("logs", first, "-n", seedNS, "--timestamps", "--tail", "1"); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\S+ `).MatchString(logs) {
		t.Fatalf("kubectl logs --timestamps --tail 1:\n%s", logs)
	}

	// Killing the server process restarts the container; RESTARTS goes up.
	if killContainerProcesses(t, pods[0].Status.ContainerStatuses[0].ContainerID) == 0 {
		t.Fatalf("no process found for container %s", pods[0].Status.ContainerStatuses[0].ContainerID)
	}
	n.waitPod(seedNS, first, 60*time.Second, "restartCount 1 and Ready again", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount == 1 && podReady(p)
	})
	if out := s.ok("get", "pod", first, "-n", seedNS); !regexp.MustCompile(`Running\s+1 `).MatchString(out) {
		t.Fatalf("RESTARTS did not go up:\n%s", out)
	}
	if prev := s.ok("logs", first, "-n", seedNS, "--previous"); !strings.Contains(prev, "listening on :8000") {
		t.Fatalf("kubectl logs --previous:\n%s", prev)
	}

	t.Run("port-forward", func(t *testing.T) { n.portForward(t, seedNS, first) })
	t.Run("exec -it", func(t *testing.T) { n.execInteractive(t, seedNS, first) })
	t.Run("cp", func(t *testing.T) { n.copyOut(t, seedNS, first) })
	// On another pod: kubectl names the ephemeral container among a
	// pod's containers from then on ("Defaulted container ...").
	t.Run("debug -it", func(t *testing.T) { n.debugInteractive(t, seedNS, pods[1].Name) })

	// A container that keeps failing goes to CrashLoopBackOff, with a
	// growing back-off.
	n.createPod("default", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "crasher"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{n.shellContainer("crash", "echo about to fail; exit 3")}}})
	n.waitPod("default", "crasher", 60*time.Second, "CrashLoopBackOff back-off 10s", func(p *corev1.Pod) bool {
		w := p.Status.ContainerStatuses
		return len(w) == 1 && w[0].State.Waiting != nil && w[0].State.Waiting.Reason == "CrashLoopBackOff" &&
			strings.Contains(w[0].State.Waiting.Message, "back-off 10s") && w[0].LastTerminationState.Terminated != nil &&
			w[0].LastTerminationState.Terminated.ExitCode == 3 && w[0].LastTerminationState.Terminated.Reason == "Error"
	})
	n.waitPod("default", "crasher", 90*time.Second, "CrashLoopBackOff back-off 20s", func(p *corev1.Pod) bool {
		w := p.Status.ContainerStatuses
		return len(w) == 1 && w[0].State.Waiting != nil && strings.Contains(w[0].State.Waiting.Message, "back-off 20s") && w[0].RestartCount >= 2
	})
	if out := s.ok("get", "pod", "crasher"); !strings.Contains(out, "CrashLoopBackOff") {
		t.Fatalf("kubectl get pod crasher:\n%s", out)
	}

	// A container allocating past its memory limit is OOMKilled.
	hog := n.container("hog", "--alloc-mb=200")
	hog.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("48Mi")}}
	n.createPod("default", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hog"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{hog}}})
	n.waitPod("default", "hog", 60*time.Second, "OOMKilled", func(p *corev1.Pod) bool {
		w := p.Status.ContainerStatuses
		return p.Status.Phase == corev1.PodFailed && len(w) == 1 && w[0].State.Terminated != nil && w[0].State.Terminated.Reason == "OOMKilled"
	})
	if out := s.ok("get", "pod", "hog"); !strings.Contains(out, "OOMKilled") {
		t.Fatalf("kubectl get pod hog:\n%s", out)
	}

	t.Run("graceful termination", func(t *testing.T) { n.gracefulDeletion(t) })

}

// portForward reaches the model server through kubectl port-forward.
func (n *nodeSuite) portForward(t *testing.T, ns, pod string) {
	local := freePort(t)
	cmd := execKubectl(n.s, "port-forward", "-n", ns, "pod/"+pod, fmt.Sprintf("%d:8000", local))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var body string
	eventually(t, 20*time.Second, "GET /predict through port-forward", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/predict", local))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == 200
	})
	if !strings.Contains(body, `"version":"v2"`) {
		t.Fatalf("/predict through port-forward: %s\nkubectl: %s", body, out.String())
	}
}

// execInteractive drives `kubectl exec -it ... -- sh` through a pty.
func (n *nodeSuite) execInteractive(t *testing.T, ns, pod string) {
	cmd := execKubectl(n.s, "exec", "-it", "-n", ns, pod, "--", n.shell)
	n.interactiveShell(t, cmd, 7)
}

// debugInteractive drives `kubectl debug -it POD --image=... -- sh`: an
// ephemeral container joins the running pod, kubectl attaches to its
// shell, and once the shell exits the container shows Terminated while
// the pod's own container ran on untouched.
func (n *nodeSuite) debugInteractive(t *testing.T, ns, pod string) {
	c := n.s.client()
	before, err := c.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := execKubectl(n.s, "debug", "-it", "-n", ns, pod, "--image=localhost/skiff/model-server:v2",
		"--image-pull-policy=IfNotPresent", "-c", "debugger", "--", n.shell)
	n.interactiveShell(t, cmd, -1)
	n.waitPod(ns, pod, 30*time.Second, "the debugger container Terminated", func(p *corev1.Pod) bool {
		for _, cs := range p.Status.EphemeralContainerStatuses {
			if cs.Name == "debugger" && cs.State.Terminated != nil {
				return true
			}
		}
		return false
	})
	after, err := c.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b, a := before.Status.ContainerStatuses[0], after.Status.ContainerStatuses[0]; a.RestartCount != b.RestartCount || a.State.Running == nil {
		t.Fatalf("the pod's container was disturbed by kubectl debug: before %+v after %+v", b, a)
	}
	if out := n.s.ok("get", "pod", pod, "-n", ns, "-o", "jsonpath={.spec.ephemeralContainers[0].name}"); out != "debugger" {
		t.Fatalf("spec.ephemeralContainers: %q", out)
	}
}

// interactiveShell drives a kubectl command that runs a shell through a
// pty: the shell answers on a terminal, and the command ends with
// wantExit (any exit status when negative) after "exit 7".
func (n *nodeSuite) interactiveShell(t *testing.T, cmd *exec.Cmd, wantExit int) {
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		mu  sync.Mutex
		buf strings.Builder
	)
	go func() {
		r := bufio.NewReader(f)
		for {
			b, err := r.ReadByte()
			if err != nil {
				return
			}
			mu.Lock()
			buf.WriteByte(b)
			mu.Unlock()
		}
	}()
	seen := func(s string) bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(buf.String(), s) }
	// The shell's prompt, its first output, says that the stream is up and
	// the shell reads its terminal: the command typed now reaches it.
	eventually(t, 20*time.Second, "the shell's prompt", func() bool { mu.Lock(); defer mu.Unlock(); return buf.Len() > 0 })
	if _, err := f.Write([]byte("echo tty=$(tty >/dev/null && echo yes) sum=$((40+2))\n")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the shell's answer", func() bool { return seen("tty=yes sum=42") })
	_, _ = f.Write([]byte("exit 7\n"))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); wantExit >= 0 && (!ok || ee.ExitCode() != wantExit) {
			t.Fatalf("%s exit: %v, want %d", cmd.Args, err, wantExit)
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%s did not end after exit", cmd.Args)
	}
}

// copyOut copies a file the container wrote out of the pod with kubectl cp.
func (n *nodeSuite) copyOut(t *testing.T, ns, pod string) {
	name := fmt.Sprintf("/tmp/skiff-cp-%d.txt", time.Now().UnixNano())
	n.s.ok("exec", "-n", ns, pod, "--", n.shell, "-c", "echo copied out of "+pod+" > "+name)
	dst := filepath.Join(t.TempDir(), "out.txt")
	r := n.s.kubectl("", nil, "cp", ns+"/"+pod+":"+name, dst)
	if r.Code != 0 {
		t.Fatalf("kubectl cp: %d %s", r.Code, r.Stderr)
	}
	b, err := os.ReadFile(dst)
	if err != nil || strings.TrimSpace(string(b)) != "copied out of "+pod {
		t.Fatalf("copied file: %q %v", b, err)
	}
	if n.runtime == "process" {
		_ = os.Remove(name) // the process runtime shares the host's /tmp
	}
}

// gracefulDeletion deletes a pod whose server ignores SIGTERM: its preStop
// hook runs, then SIGTERM, then SIGKILL only once the grace period is over.
func (n *nodeSuite) gracefulDeletion(t *testing.T) {
	grace := int64(6)
	c := n.container("server", "--ignore-sigterm")
	c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/prestop", Port: intstr.FromInt32(8000)}}}
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8000)}}, PeriodSeconds: 1}
	n.createPod("default", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "graceful"},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace, Containers: []corev1.Container{c}}})
	n.waitPod("default", "graceful", 60*time.Second, "Ready", podReady)

	logs := execKubectl(n.s, "logs", "-f", "graceful")
	out := &syncBuffer{}
	logs.Stdout, logs.Stderr = out, out
	if err := logs.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logs.Process.Kill(); _ = logs.Wait() }()
	eventually(t, 10*time.Second, "logs -f streaming", func() bool { return strings.Contains(out.String(), "listening on :8000") })

	start := time.Now()
	n.s.ok("delete", "pod", "graceful", "--wait=true", "--timeout=60s")
	took := time.Since(start)
	text := out.String()
	pre, term := strings.Index(text, "preStop hook called"), strings.Index(text, "SIGTERM received, ignoring")
	if pre < 0 || term < 0 || pre > term {
		t.Fatalf("want the preStop hook before SIGTERM in the container's output:\n%s", text)
	}
	if took < time.Duration(grace)*time.Second-time.Second || took > time.Duration(grace)*time.Second+20*time.Second {
		t.Fatalf("deletion took %s; the server ignores SIGTERM, so SIGKILL must come at the %ds grace period", took, grace)
	}
}

// stopGracefully ends an agent with SIGTERM so that it stops its pods and
// removes its networks, then waits for it.
func (a *agent) stopGracefully() {
	if a.cmd.ProcessState != nil || a.cmd.Process == nil {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = a.cmd.Process.Kill()
		<-done
	}
}

// TestSecondAgent joins a second `skiff agent` process with the process
// runtime to a server whose own node runs the process runtime too: it turns
// Ready and runs the pods scheduled to it; a wrong token is refused.
func TestSecondAgent(t *testing.T) {
	n := startNodeSuite(t, "process")
	s, c := n.s, n.s.client()

	bad := exec.Command(skiffBin, "agent", "--server", fmt.Sprintf("https://127.0.0.1:%d", s.port),
		"--token", "skiff-"+strings.Repeat("0", 64)+".wrongsecret", "--data-dir", t.TempDir(), "--node-name", "intruder", "--runtime", "process")
	out, err := bad.CombinedOutput()
	if err == nil || !strings.Contains(strings.ToLower(string(out)), "token") {
		t.Fatalf("agent with a wrong token: %v\n%s", err, out)
	}
	if _, err := c.CoreV1().Nodes().Get(context.Background(), "intruder", metav1.GetOptions{}); err == nil {
		t.Fatal("a node registered with a wrong token")
	}

	a := startAgent(t, s, "second", "--runtime", "process", "--kubelet-port", fmt.Sprint(freePort(t)), "--fake-gpus", "2")
	t.Cleanup(a.stopGracefully)
	eventually(t, 60*time.Second, "node second Ready with a pod CIDR", func() bool {
		node, err := c.CoreV1().Nodes().Get(context.Background(), "second", metav1.GetOptions{})
		if err != nil || node.Spec.PodCIDR == "" {
			return false
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status == corev1.ConditionTrue
			}
		}
		return false
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "on-second"}, Spec: corev1.PodSpec{
		NodeSelector: map[string]string{"kubernetes.io/hostname": "second"},
		Containers:   []corev1.Container{n.container("server")},
	}}
	n.createPod("default", pod)
	p := n.waitPod("default", "on-second", 60*time.Second, "Running and Ready on node second", func(p *corev1.Pod) bool {
		return p.Spec.NodeName == "second" && p.Status.Phase == corev1.PodRunning && podReady(p)
	})
	node, _ := c.CoreV1().Nodes().Get(context.Background(), "second", metav1.GetOptions{})
	if _, cidr, _ := net.ParseCIDR(node.Spec.PodCIDR); cidr == nil || !cidr.Contains(net.ParseIP(p.Status.PodIP)) {
		t.Fatalf("pod IP %s not in node second's pod CIDR %s", p.Status.PodIP, node.Spec.PodCIDR)
	}
	if logs := s.ok("logs", "on-second"); !strings.Contains(logs, "listening on :8000") {
		t.Fatalf("kubectl logs through the second agent:\n%s", logs)
	}
	s.ok("delete", "pod", "on-second", "--wait=true", "--timeout=60s")

	// Node second has two (simulated) GPUs: two pods asking for one each
	// run there with a device of their own, which their processes see.
	seen := map[string]string{}
	for _, name := range []string{"gpu-a", "gpu-b"} {
		ctr := n.container("server")
		gpu := resource.MustParse("1")
		ctr.Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": gpu}
		n.createPod("default", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{ctr}}})
	}
	for _, name := range []string{"gpu-a", "gpu-b"} {
		n.waitPod("default", name, 60*time.Second, "Running on node second", func(p *corev1.Pod) bool {
			return p.Spec.NodeName == "second" && p.Status.Phase == corev1.PodRunning
		})
		env := s.ok("exec", name, "--", "env")
		m := regexp.MustCompile(`(?m)^NVIDIA_VISIBLE_DEVICES=(\S+)$`).FindStringSubmatch(env)
		if m == nil || !strings.Contains(env, "CUDA_VISIBLE_DEVICES="+m[1]+"\n") {
			t.Fatalf("kubectl exec %s -- env: no NVIDIA_VISIBLE_DEVICES and matching CUDA_VISIBLE_DEVICES:\n%s", name, env)
		}
		seen[name] = m[1]
	}
	if seen["gpu-a"] == seen["gpu-b"] {
		t.Errorf("both GPU pods got device %s", seen["gpu-a"])
	}
	s.ok("delete", "pod", "gpu-a", "gpu-b", "--wait=true", "--timeout=60s")
}
