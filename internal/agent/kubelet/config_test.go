//go:build integration

package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestEnvAndVolumes(t *testing.T) {
	env := startKubelet(t, nil)
	ctx := context.Background()
	if _, err := env.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Data: map[string]string{"model": "resnet"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := simplePod("conf", corev1.Container{
		Name: "app", Image: "skiff/app:v1",
		Env: []corev1.EnvVar{
			{Name: "GCP_PROJECT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "gcp"}, Key: "project"}}},
			{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/model"}, {Name: "scratch", MountPath: "/scratch"}},
	})
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	env.createPod(t, pod)
	env.waitPod(t, "conf", "CreateContainerConfigError", func(p *corev1.Pod) error {
		cs := p.Status.ContainerStatuses
		if len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CreateContainerConfigError" &&
			cs[0].State.Waiting.Message == `secret "gcp" not found` {
			return nil
		}
		return errors.New("no CreateContainerConfigError")
	})
	if _, err := env.client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "gcp"}, StringData: map[string]string{"project": "skiff-prod"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := env.waitPod(t, "conf", "Running", func(p *corev1.Pod) error { return isReady(p) })
	cc := env.rt.Config("conf", "app")
	got := map[string]string{}
	for _, kv := range cc.Envs {
		got[kv.Key] = string(kv.Value)
	}
	if got["GCP_PROJECT"] != "skiff-prod" || got["POD_IP"] != p.Status.PodIP {
		t.Errorf("env = %v", got)
	}
	mounts := map[string]string{}
	for _, m := range cc.Mounts {
		mounts[m.ContainerPath] = m.HostPath
	}
	b, err := os.ReadFile(filepath.Join(mounts["/etc/model"], "model"))
	if err != nil || string(b) != "resnet" {
		t.Errorf("configmap file: %q %v (mounts %v)", b, err, mounts)
	}
	if _, ok := mounts["/scratch"]; !ok {
		t.Errorf("no emptyDir mount: %v", mounts)
	}
	if _, ok := mounts["/dev/termination-log"]; !ok {
		t.Errorf("no termination-log mount: %v", mounts)
	}
	// The termination message reaches the status.
	if err := os.WriteFile(mounts["/dev/termination-log"], []byte("model not found"), 0o600); err != nil {
		t.Fatal(err)
	}
	env.rt.Exit(env.rt.Running("conf", "app"), 4, "")
	env.waitPod(t, "conf", "termination message", func(p *corev1.Pod) error {
		lt := p.Status.ContainerStatuses[0].LastTerminationState.Terminated
		if lt == nil || lt.Message != "model not found" || lt.ExitCode != 4 {
			return fmt.Errorf("last state %+v", lt)
		}
		return nil
	})
	// Volumes go with the pod.
	if err := env.client.CoreV1().Pods("default").Delete(ctx, "conf", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(1))}); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "pod dir removed", func() error {
		if _, err := os.Stat(filepath.Join(env.cfg.DataDir, "pods", string(p.UID))); !os.IsNotExist(err) {
			return fmt.Errorf("pod dir: %v", err)
		}
		return nil
	})
}

func TestRestartPolicyOnFailureSucceeds(t *testing.T) {
	env := startKubelet(t, nil)
	pod := simplePod("job", corev1.Container{Name: "app", Image: "skiff/app:v1", Command: []string{"fake-exit", "0"}})
	pod.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	env.createPod(t, pod)
	p := env.waitPhase(t, "job", corev1.PodSucceeded)
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.Reason != "Completed" || p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("state = %+v", p.Status.ContainerStatuses[0])
	}
	if c := condition(p, corev1.PodReady); c == nil || c.Reason != "PodCompleted" {
		t.Errorf("Ready = %+v", c)
	}
}

func TestPodGoneFromAPIIsKilled(t *testing.T) {
	env := startKubelet(t, nil)
	env.createPod(t, simplePod("gone"))
	env.waitPod(t, "gone", "Ready", isReady)
	if err := env.client.CoreV1().Pods("default").Delete(context.Background(), "gone", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "runtime cleaned up", func() error {
		if c, s := env.rt.Count(); c != 0 || s != 0 {
			return fmt.Errorf("%d containers, %d sandboxes left", c, s)
		}
		return nil
	})
	for _, c := range env.rt.Calls() {
		if strings.HasPrefix(c, "StopContainer app") && c != "StopContainer app 0" && c != "StopContainer app 2" {
			t.Errorf("killed with a grace period: %q", c)
		}
	}
}

func TestStartupProbeGatesLiveness(t *testing.T) {
	env := startKubelet(t, nil)
	started := make(chan struct{})
	env.rt.SetExec(func(id string, cmd []string) (string, int) {
		switch cmd[0] {
		case "started":
			select {
			case <-started:
				return "", 0
			default:
				return "warming up", 1
			}
		default: // liveness: fails unless gated by the startup probe
			select {
			case <-started:
				return "", 0
			default:
				return "liveness ran too early", 1
			}
		}
	})
	pod := simplePod("slow", corev1.Container{
		Name: "app", Image: "skiff/app:v1",
		StartupProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"started"}}}, PeriodSeconds: 1, FailureThreshold: 30},
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"alive"}}}, PeriodSeconds: 1, FailureThreshold: 1},
	})
	env.createPod(t, pod)
	env.waitPhase(t, "slow", corev1.PodRunning)
	// Two periods of the startup probe (the liveness probe's would have
	// failed the container).
	env.waitCalls(t, "ExecSync app started", 3)
	p, _ := env.getPod("slow")
	cs := p.Status.ContainerStatuses[0]
	if ptr.Deref(cs.Started, true) || cs.Ready || cs.RestartCount != 0 {
		t.Errorf("before the startup probe passes: %+v", cs)
	}
	close(started)
	env.waitPod(t, "slow", "started and Ready", isReady)
	p, _ = env.getPod("slow")
	if p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("restarted: %s", describeStatuses(p))
	}
}

func TestActiveDeadline(t *testing.T) {
	env := startKubelet(t, nil)
	pod := simplePod("deadline")
	pod.Spec.ActiveDeadlineSeconds = ptr.To(int64(2))
	env.createPod(t, pod)
	p := env.waitPod(t, "deadline", "DeadlineExceeded", func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodFailed || p.Status.Reason != "DeadlineExceeded" {
			return errors.New("not failed")
		}
		return nil
	})
	if p.Status.Message != "Pod was active on the node longer than the specified deadline" {
		t.Errorf("message = %q", p.Status.Message)
	}
	if s := p.Status.ContainerStatuses[0].State.Terminated; s == nil {
		t.Errorf("container = %+v", p.Status.ContainerStatuses[0].State)
	}
}

func TestPostStartHookFailureKills(t *testing.T) {
	env := startKubelet(t, nil)
	env.rt.SetExec(func(id string, cmd []string) (string, int) { return "no config", 1 })
	pod := simplePod("hook", corev1.Container{
		Name: "app", Image: "skiff/app:v1",
		Lifecycle: &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"init-config"}}}},
	})
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	env.createPod(t, pod)
	env.waitPhase(t, "hook", corev1.PodFailed)
	env.waitSyncs(t, 2)
	p, _ := env.getPod("hook")
	if s := p.Status.ContainerStatuses[0].State; s.Terminated == nil {
		t.Errorf("state = %+v, want terminated (not restarted)", s)
	}
	env.waitEvent(t, "hook", "FailedPostStartHook: Exec lifecycle hook ([init-config]) for Container \"app\" in Pod \"hook_default(")
}

func TestFailedMount(t *testing.T) {
	env := startKubelet(t, nil)
	pod := simplePod("nomount", corev1.Container{Name: "app", Image: "skiff/app:v1", VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg"}}})
	pod.Spec.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}}}}}
	env.createPod(t, pod)
	env.waitEvent(t, "nomount", `FailedMount: MountVolume.SetUp failed for volume "cfg" : configmap "missing" not found`)
	// The event and the status write race; the status must settle on
	// Pending/ContainerCreating.
	env.waitPod(t, "nomount", "Pending with ContainerCreating", func(p *corev1.Pod) error {
		if s := p.Status.ContainerStatuses; len(s) != 1 || s[0].State.Waiting == nil || s[0].State.Waiting.Reason != "ContainerCreating" || p.Status.Phase != corev1.PodPending {
			return fmt.Errorf("status: %s %s", p.Status.Phase, describeStatuses(p))
		}
		return nil
	})
}

func TestTerminationMessageFallbackToLogs(t *testing.T) {
	env := startKubelet(t, nil)
	pod := simplePod("fallback", corev1.Container{Name: "app", Image: "skiff/app:v1", TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError})
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	env.createPod(t, pod)
	p := env.waitPod(t, "fallback", "Ready", isReady)
	logFile := filepath.Join(env.cfg.DataDir, "logs", "default_fallback_"+string(p.UID), "app", "0.log")
	if err := os.WriteFile(logFile, []byte("2026-01-01T00:00:00Z stderr F panic: no model\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env.rt.Exit(env.rt.Running("fallback", "app"), 2, "")
	env.waitPod(t, "fallback", "message from the log", func(p *corev1.Pod) error {
		term := p.Status.ContainerStatuses[0].State.Terminated
		if p.Status.Phase != corev1.PodFailed || term == nil || term.Message != "panic: no model\n" {
			return fmt.Errorf("terminated = %+v", term)
		}
		return nil
	})
}
