//go:build integration

package kubelet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestPodRunsAndIsReady(t *testing.T) {
	env := startKubelet(t, nil)
	env.createPod(t, simplePod("web",
		corev1.Container{
			Name: "app", Image: "skiff/app:v1",
			Command: []string{"/server"}, Args: []string{"--name=$(NAME)"},
			Env: []corev1.EnvVar{{Name: "NAME", Value: "web"}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			},
		},
		corev1.Container{Name: "sidecar", Image: "skiff/helper:latest"},
	))
	p := env.waitPod(t, "web", "Running and Ready", runningAndReady)
	if p.Status.PodIP == "" || !strings.HasPrefix(p.Status.PodIP, "10.244.1.") {
		t.Errorf("podIP = %q", p.Status.PodIP)
	}
	if p.Status.HostIP != "192.0.2.10" || len(p.Status.PodIPs) != 1 {
		t.Errorf("hostIP %q podIPs %v", p.Status.HostIP, p.Status.PodIPs)
	}
	if p.Status.StartTime == nil {
		t.Errorf("no startTime")
	}
	if len(p.Status.ContainerStatuses) != 2 || p.Status.ContainerStatuses[0].Name != "app" {
		t.Fatalf("statuses: %+v", p.Status.ContainerStatuses)
	}
	cs := p.Status.ContainerStatuses[0]
	if !strings.HasPrefix(cs.ContainerID, "fake://") || cs.Image != "skiff/app:v1" || cs.ImageID == "" ||
		cs.State.Running == nil || !cs.Ready || !ptr.Deref(cs.Started, false) || cs.RestartCount != 0 {
		t.Errorf("app status = %+v", cs)
	}
	for _, typ := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if c := condition(p, typ); c == nil || c.Status != corev1.ConditionTrue {
			t.Errorf("condition %s = %+v", typ, c)
		}
	}
	if p.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("qosClass = %q", p.Status.QOSClass)
	}

	// What the runtime was asked for.
	sb := env.rt.SandboxConfig("web")
	if sb.Linux.CgroupParent != "/skiff/pod"+string(p.UID) || sb.Hostname != "web" ||
		!strings.HasSuffix(sb.LogDirectory, "/logs/default_web_"+string(p.UID)) || sb.Labels[labelPodUID] != string(p.UID) {
		t.Errorf("sandbox config = %+v", sb)
	}
	cc := env.rt.Config("web", "app")
	if cc.LogPath != "app/0.log" || cc.Annotations[annotationRestarts] != "0" || cc.Labels[labelContainerName] != "app" {
		t.Errorf("container config = %+v", cc)
	}
	if strings.Join(cc.Args, " ") != "--name=web" {
		t.Errorf("args = %q", cc.Args)
	}
	r := cc.Linux.Resources
	if r.CpuShares != 256 || r.CpuQuota != 50000 || r.CpuPeriod != 100000 || r.MemoryLimitInBytes != 64<<20 {
		t.Errorf("resources = %+v", r)
	}
	// Nothing changes, so nothing is written (resyncs are every second).
	rv := p.ResourceVersion
	env.waitSyncs(t, 2)
	if p2, _ := env.getPod("web"); p2.ResourceVersion != rv {
		t.Errorf("status rewritten without a change: %s", cmpStatus(p.Status, p2.Status))
	}
	evs, err := env.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(evs.Items) == 0 {
		t.Fatalf("events: %v", err)
	}
	if src := evs.Items[0].Source; src.Component != "kubelet" || src.Host != testNode {
		t.Errorf("event source = %+v", src)
	}
	// Kubernetes 1.37's words: the container is named by the event's
	// fieldPath, not in the message.
	env.waitEvent(t, "web", "Started: Container started [spec.containers{app}]")
	env.waitEvent(t, "web", "Created: Container created [spec.containers{sidecar}]")
	env.waitEvent(t, "web", `Pulling: Pulling image "skiff/helper:latest"`)
}

func TestPodAdmissionOutOfCPU(t *testing.T) {
	env := startKubelet(t, nil)
	env.createPod(t, simplePod("big", corev1.Container{
		Name: "app", Image: "skiff/app:v1",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100000")}},
	}))
	p := env.waitPhase(t, "big", corev1.PodFailed)
	if p.Status.Reason != "OutOfcpu" || !strings.HasPrefix(p.Status.Message, "Pod was rejected: Node didn't have enough resource: cpu, requested: 100000000, used: 0, capacity: ") {
		t.Errorf("reason %q message %q", p.Status.Reason, p.Status.Message)
	}
	if p.Status.ObservedGeneration != p.Generation {
		t.Errorf("observedGeneration %d of generation %d", p.Status.ObservedGeneration, p.Generation)
	}
	if n, _ := env.rt.Count(); n != 0 {
		t.Errorf("%d containers created for a rejected pod", n)
	}
}

func TestReadinessProbeGatesReady(t *testing.T) {
	env := startKubelet(t, nil)
	ready := make(chan struct{})
	env.rt.SetExec(func(id string, cmd []string) (string, int) {
		select {
		case <-ready:
			return "ok", 0
		default:
			return "not yet", 1
		}
	})
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}}, PeriodSeconds: 1}
	env.createPod(t, simplePod("gated", corev1.Container{Name: "app", Image: "skiff/app:v1", ReadinessProbe: probe}))
	env.waitPhase(t, "gated", corev1.PodRunning)
	env.waitCalls(t, "ExecSync app check", 2)
	p, _ := env.getPod("gated")
	c := condition(p, corev1.PodReady)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [app]" {
		t.Errorf("Ready = %+v", c)
	}
	if cs := p.Status.ContainerStatuses[0]; cs.Ready || !ptr.Deref(cs.Started, false) {
		t.Errorf("status = %+v", cs)
	}
	env.waitEvent(t, "gated", "Unhealthy: Readiness probe failed: not yet")
	close(ready)
	env.waitPod(t, "gated", "Ready", isReady)
}

func TestLivenessFailureRestartsContainer(t *testing.T) {
	env := startKubelet(t, nil)
	var first string
	env.rt.SetExec(func(id string, cmd []string) (string, int) {
		if id == first || first == "" {
			first = id
			return "HTTP probe failed with statuscode: 500", 1
		}
		return "", 0
	})
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"alive"}}}, PeriodSeconds: 1, FailureThreshold: 2}
	env.createPod(t, simplePod("live", corev1.Container{Name: "app", Image: "skiff/app:v1", LivenessProbe: probe}))
	p := env.waitPod(t, "live", "restarted", func(p *corev1.Pod) error {
		cs := p.Status.ContainerStatuses
		if len(cs) == 0 || cs[0].RestartCount != 1 || cs[0].State.Running == nil {
			return errors.New("not restarted and running")
		}
		return nil
	})
	if lt := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; lt == nil || lt.ExitCode != 143 {
		t.Errorf("lastState = %+v", p.Status.ContainerStatuses[0].LastTerminationState)
	}
	env.waitEvent(t, "live", "Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 500")
	env.waitEvent(t, "live", "Killing: Container app failed liveness probe, will be restarted")
	if cc := env.rt.Config("live", "app"); cc.LogPath != "app/1.log" {
		t.Errorf("restarted log path = %q", cc.LogPath)
	}
}

func TestCrashLoopBackOffGrows(t *testing.T) {
	env := startKubelet(t, nil)
	env.createPod(t, simplePod("crash", corev1.Container{Name: "app", Image: "skiff/app:v1", Command: []string{"fake-exit", "3"}}))
	seen := map[string]bool{}
	env.waitPod(t, "crash", "back-off grows", func(p *corev1.Pod) error {
		cs := p.Status.ContainerStatuses
		if len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CrashLoopBackOff" {
			seen[cs[0].State.Waiting.Message] = true
			if lt := cs[0].LastTerminationState.Terminated; lt == nil || lt.ExitCode != 3 || lt.Reason != "Error" {
				return fmt.Errorf("lastState = %+v", cs[0].LastTerminationState)
			}
		}
		want := fmt.Sprintf("back-off 800ms restarting failed container=app pod=crash_default(%s)", p.UID)
		if !seen[want] {
			return fmt.Errorf("no %q yet; seen %v", want, seen)
		}
		return nil
	})
	p, _ := env.getPod("crash")
	if !seen[fmt.Sprintf("back-off 400ms restarting failed container=app pod=crash_default(%s)", p.UID)] {
		t.Errorf("first back-off not seen: %v", seen)
	}
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("phase = %s", p.Status.Phase)
	}
	env.waitEvent(t, "crash", "BackOff: Back-off restarting failed container app in pod crash_default")
	// Only the current and the previous instance are kept.
	if n, _ := env.rt.Count(); n > 2 {
		t.Errorf("%d containers kept", n)
	}
}

func TestOOMKilledNeverRestarted(t *testing.T) {
	env := startKubelet(t, nil)
	pod := simplePod("oom", corev1.Container{Name: "app", Image: "skiff/app:v1", Command: []string{"fake-oom"}})
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	env.createPod(t, pod)
	p := env.waitPhase(t, "oom", corev1.PodFailed)
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Errorf("state = %+v", p.Status.ContainerStatuses[0].State)
	}
	if c := condition(p, corev1.PodReady); c == nil || c.Status != corev1.ConditionFalse {
		t.Errorf("Ready = %+v", c)
	}
	// The sandbox is stopped, the container kept for its logs.
	poll(t, 5*time.Second, "sandbox stopped", func() error {
		for _, call := range env.rt.Calls() {
			if call == "StopPodSandbox oom" {
				return nil
			}
		}
		return errors.New("not stopped")
	})
	if n, _ := env.rt.Count(); n != 1 {
		t.Errorf("containers kept = %d", n)
	}
}

func TestImagePullBackOff(t *testing.T) {
	env := startKubelet(t, nil)
	env.rt.SetPullError("skiff/missing:v9", errors.New(`rpc error: code = NotFound desc = failed to pull and unpack image "skiff/missing:v9": not found`))
	env.createPod(t, simplePod("nopull", corev1.Container{Name: "app", Image: "skiff/missing:v9"}))
	// ErrImagePull lasts only until the back-off starts (400 ms here): its
	// event is the lasting trace; the status then says ImagePullBackOff and
	// carries the ErrImagePull message.
	env.waitEvent(t, "nopull", "Failed: Error: ErrImagePull")
	p := env.waitPod(t, "nopull", "ImagePullBackOff", func(p *corev1.Pod) error {
		cs := p.Status.ContainerStatuses
		if len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "ImagePullBackOff" {
			return nil
		}
		return errors.New("no ImagePullBackOff")
	})
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; !strings.HasPrefix(msg, `Back-off pulling image "skiff/missing:v9": ErrImagePull: rpc error`) {
		t.Errorf("message = %q", msg)
	}
	if p.Status.Phase != corev1.PodPending {
		t.Errorf("phase = %s", p.Status.Phase)
	}
	env.waitEvent(t, "nopull", `Failed: Failed to pull image "skiff/missing:v9": rpc error`)
	env.waitEvent(t, "nopull", `BackOff: Back-off pulling image "skiff/missing:v9"`)

	// Never: not pulled.
	env.createPod(t, simplePod("never", corev1.Container{Name: "app", Image: "skiff/absent:v1", ImagePullPolicy: corev1.PullNever}))
	env.waitPod(t, "never", "ErrImageNeverPull", func(p *corev1.Pod) error {
		cs := p.Status.ContainerStatuses
		if len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "ErrImageNeverPull" &&
			cs[0].State.Waiting.Message == `Container image "skiff/absent:v1" is not present with pull policy of Never` {
			return nil
		}
		return errors.New("no ErrImageNeverPull")
	})
}

func TestGracefulDeletion(t *testing.T) {
	env := startKubelet(t, nil)
	pod := simplePod("bye", corev1.Container{
		Name: "app", Image: "skiff/app:v1",
		Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"drain"}}}},
	})
	pod.Spec.TerminationGracePeriodSeconds = ptr.To(int64(20))
	env.createPod(t, pod)
	p := env.waitPod(t, "bye", "Running", func(p *corev1.Pod) error { return isReady(p) })
	if err := env.client.CoreV1().Pods("default").Delete(context.Background(), "bye", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(7))}); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "pod deleted", func() error {
		_, err := env.getPod("bye")
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	var order []string
	for _, c := range env.rt.Calls() {
		if strings.HasPrefix(c, "ExecSync app drain") || strings.HasPrefix(c, "StopContainer app") || c == "StopPodSandbox bye" {
			order = append(order, c)
		}
	}
	if len(order) != 3 || order[0] != "ExecSync app drain" || !strings.HasPrefix(order[1], "StopContainer app ") || order[2] != "StopPodSandbox bye" {
		t.Fatalf("order = %q", order)
	}
	var timeout int
	fmt.Sscanf(strings.TrimPrefix(order[1], "StopContainer app "), "%d", &timeout)
	if timeout < 5 || timeout > 7 {
		t.Errorf("stop timeout = %d, want the deletion's 7s grace less the hook", timeout)
	}
	poll(t, 10*time.Second, "runtime cleaned up", func() error {
		if c, s := env.rt.Count(); c != 0 || s != 0 {
			return fmt.Errorf("%d containers, %d sandboxes left", c, s)
		}
		return nil
	})
	_ = p
}

func TestInitContainersAndSidecar(t *testing.T) {
	env := startKubelet(t, nil)
	pod := simplePod("init", corev1.Container{Name: "app", Image: "skiff/app:v1"})
	pod.Spec.InitContainers = []corev1.Container{
		{Name: "setup", Image: "skiff/app:v1", Command: []string{"fake-exit-after", "300ms", "0"}},
		{Name: "proxy", Image: "skiff/app:v1", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)},
		{Name: "migrate", Image: "skiff/app:v1", Command: []string{"fake-exit", "0"}},
	}
	env.createPod(t, pod)
	p := env.waitPod(t, "init", "Running and Ready", runningAndReady)
	var starts []string
	for _, c := range env.rt.Calls() {
		if strings.HasPrefix(c, "StartContainer ") {
			starts = append(starts, strings.TrimPrefix(c, "StartContainer "))
		}
	}
	if strings.Join(starts, ",") != "setup,proxy,migrate,app" {
		t.Errorf("start order = %v", starts)
	}
	ics := p.Status.InitContainerStatuses
	if len(ics) != 3 || ics[0].State.Terminated == nil || ics[0].State.Terminated.Reason != "Completed" ||
		ics[1].State.Running == nil || !ics[1].Ready || ics[2].State.Terminated == nil {
		t.Errorf("init statuses: %s", describeStatuses(p))
	}

	// The sidecar restarts when it exits.
	env.rt.Exit(env.rt.Running("init", "proxy"), 1, "")
	env.waitPod(t, "init", "sidecar restarted", func(p *corev1.Pod) error {
		if s := p.Status.InitContainerStatuses[1]; s.RestartCount != 1 || s.State.Running == nil {
			return errors.New("not restarted")
		}
		return nil
	})

	// On deletion the sidecar stops after the main container.
	if err := env.client.CoreV1().Pods("default").Delete(context.Background(), "init", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "pod deleted", func() error {
		if _, err := env.getPod("init"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	var stops []string
	for _, c := range env.rt.Calls() {
		if strings.HasPrefix(c, "StopContainer ") {
			stops = append(stops, strings.Fields(c)[1])
		}
	}
	if strings.Join(stops, ",") != "app,proxy" {
		t.Errorf("stop order = %v", stops)
	}
}

func TestInitContainerFailureNever(t *testing.T) {
	env := startKubelet(t, nil)
	pod := simplePod("initfail", corev1.Container{Name: "app", Image: "skiff/app:v1"})
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "skiff/app:v1", Command: []string{"fake-exit", "2"}}}
	env.createPod(t, pod)
	p := env.waitPhase(t, "initfail", corev1.PodFailed)
	if c := condition(p, corev1.PodInitialized); c == nil || c.Status != corev1.ConditionFalse || c.Message != "containers with incomplete status: [setup]" {
		t.Errorf("Initialized = %+v", c)
	}
	if s := p.Status.ContainerStatuses[0]; s.State.Waiting == nil || s.State.Waiting.Reason != "PodInitializing" {
		t.Errorf("app = %+v", s.State)
	}
}

func TestSandboxRecreated(t *testing.T) {
	env := startKubelet(t, nil)
	env.createPod(t, simplePod("resb"))
	env.waitPod(t, "resb", "Ready", isReady)
	env.rt.LoseSandbox("resb")
	p := env.waitPod(t, "resb", "running in a new sandbox", func(p *corev1.Pod) error {
		cs := p.Status.ContainerStatuses
		if len(cs) != 1 || cs[0].RestartCount != 1 || cs[0].State.Running == nil {
			return errors.New("not restarted")
		}
		return isReady(p)
	})
	if sb := env.rt.SandboxConfig("resb"); sb.Metadata.Attempt != 1 {
		t.Errorf("sandbox attempt = %d", sb.Metadata.Attempt)
	}
	env.waitEvent(t, "resb", "SandboxChanged: Pod sandbox changed, it will be killed and re-created.")
	_ = p
}

func cmpStatus(a, b corev1.PodStatus) string {
	return fmt.Sprintf("before %+v\nafter %+v", a, b)
}

func TestImageChangeRestartsContainer(t *testing.T) {
	env := startKubelet(t, nil)
	pod := simplePod("upd")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	env.createPod(t, pod)
	p := env.waitPod(t, "upd", "Ready", isReady)
	p.Spec.Containers[0].Image = "skiff/app:v2"
	if _, err := env.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.waitPod(t, "upd", "running v2", func(p *corev1.Pod) error {
		cs := p.Status.ContainerStatuses[0]
		if cs.Image != "skiff/app:v2" || cs.RestartCount != 1 || cs.State.Running == nil {
			return errors.New("not restarted with v2")
		}
		return nil
	})
	if cc := env.rt.Config("upd", "app"); cc.Image.UserSpecifiedImage != "skiff/app:v2" {
		t.Errorf("image = %+v", cc.Image)
	}
	env.waitEvent(t, "upd", "Killing: Container app definition changed, will be restarted")
}
