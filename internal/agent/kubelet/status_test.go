package kubelet

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

func running() corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}, Started: ptr.To(true)}
}

func terminated(code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}
}

func waiting(lastCode *int32) corev1.ContainerStatus {
	s := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}
	if lastCode != nil {
		s.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: *lastCode}
	}
	return s
}

func named(name string, s corev1.ContainerStatus) corev1.ContainerStatus {
	s.Name = name
	return s
}

func TestPodPhase(t *testing.T) {
	two := func(policy corev1.RestartPolicy) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: policy, Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}}
	}
	withInit := func(policy corev1.RestartPolicy, sidecar bool) *corev1.Pod {
		p := two(policy)
		p.Spec.InitContainers = []corev1.Container{{Name: "i"}}
		if sidecar {
			p.Spec.InitContainers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		}
		return p
	}
	one := int32(1)
	tests := []struct {
		name        string
		pod         *corev1.Pod
		init, main  []corev1.ContainerStatus
		terminating bool
		want        corev1.PodPhase
	}{
		{"nothing yet", two(corev1.RestartPolicyAlways), nil, nil, false, corev1.PodPending},
		{"one waiting", two(corev1.RestartPolicyAlways), nil, []corev1.ContainerStatus{named("a", running()), named("b", corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}})}, false, corev1.PodPending},
		{"all running", two(corev1.RestartPolicyAlways), nil, []corev1.ContainerStatus{named("a", running()), named("b", running())}, false, corev1.PodRunning},
		{"one crashed restarting", two(corev1.RestartPolicyAlways), nil, []corev1.ContainerStatus{named("a", running()), named("b", waiting(&one))}, false, corev1.PodRunning},
		{"all exited, Always", two(corev1.RestartPolicyAlways), nil, []corev1.ContainerStatus{named("a", terminated(0)), named("b", terminated(1))}, false, corev1.PodRunning},
		{"all succeeded, OnFailure", two(corev1.RestartPolicyOnFailure), nil, []corev1.ContainerStatus{named("a", terminated(0)), named("b", terminated(0))}, false, corev1.PodSucceeded},
		{"one failed, OnFailure", two(corev1.RestartPolicyOnFailure), nil, []corev1.ContainerStatus{named("a", terminated(0)), named("b", terminated(1))}, false, corev1.PodRunning},
		{"one failed, Never", two(corev1.RestartPolicyNever), nil, []corev1.ContainerStatus{named("a", terminated(0)), named("b", terminated(1))}, false, corev1.PodFailed},
		{"terminating, all 0", two(corev1.RestartPolicyAlways), nil, []corev1.ContainerStatus{named("a", terminated(0)), named("b", terminated(0))}, true, corev1.PodSucceeded},
		{"terminating, killed", two(corev1.RestartPolicyAlways), nil, []corev1.ContainerStatus{named("a", terminated(143)), named("b", terminated(0))}, true, corev1.PodFailed},
		{"init running", withInit(corev1.RestartPolicyAlways, false), []corev1.ContainerStatus{named("i", running())}, nil, false, corev1.PodPending},
		{"init failed, Never", withInit(corev1.RestartPolicyNever, false), []corev1.ContainerStatus{named("i", terminated(1))}, nil, false, corev1.PodFailed},
		{"init failed, Always", withInit(corev1.RestartPolicyAlways, false), []corev1.ContainerStatus{named("i", waiting(&one))}, nil, false, corev1.PodPending},
		{"sidecar not started", withInit(corev1.RestartPolicyAlways, true), []corev1.ContainerStatus{named("i", corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}, Started: ptr.To(false)})}, nil, false, corev1.PodPending},
		{"sidecar restarting after start", withInit(corev1.RestartPolicyAlways, true), []corev1.ContainerStatus{named("i", waiting(&one))}, []corev1.ContainerStatus{named("a", running()), named("b", running())}, false, corev1.PodRunning},
		{"main done, sidecar running, Never", withInit(corev1.RestartPolicyNever, true), []corev1.ContainerStatus{named("i", running())}, []corev1.ContainerStatus{named("a", terminated(0)), named("b", terminated(0))}, false, corev1.PodSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podPhase(tt.pod, tt.init, tt.main, tt.terminating); got != tt.want {
				t.Errorf("phase = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestComputeStatus(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	earlier := metav1.NewTime(now.Add(-time.Hour))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyAlways,
			Containers:    []corev1.Container{{Name: "a", Image: "img:a"}, {Name: "b", Image: "img:b"}},
		},
		Status: corev1.PodStatus{
			QOSClass: corev1.PodQOSBestEffort,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: earlier},
				{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: earlier},
			},
		},
	}
	state := &podState{
		sandboxes: []*sandboxInfo{{id: "s", ready: true, ip: "10.0.0.5"}},
		containers: map[string][]*containerInfo{
			"a": {{id: "a1", name: "a", attempt: 0, state: runtimeapi.ContainerState_CONTAINER_RUNNING, startedAt: now.Add(-time.Minute), imageRef: "docker.io/img@sha256:1"}},
			"b": {
				{id: "b2", name: "b", attempt: 2, state: runtimeapi.ContainerState_CONTAINER_EXITED, exitCode: 1, reason: "Error", finishedAt: now},
				{id: "b1", name: "b", attempt: 1, state: runtimeapi.ContainerState_CONTAINER_EXITED, exitCode: 137, reason: "OOMKilled"},
			},
		},
	}
	st := computeStatus(statusInput{
		pod: pod, state: state, runtimeName: "containerd", hostIP: "192.0.2.1", now: now,
		waiting: map[string]waitingReason{"b": {reasonCrashLoopBackOff, "back-off 20s restarting failed container=b pod=p_ns(u1)"}},
	})
	if st.Phase != corev1.PodRunning || st.PodIP != "10.0.0.5" || st.HostIP != "192.0.2.1" || st.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("status = %+v", st)
	}
	a, b := st.ContainerStatuses[0], st.ContainerStatuses[1]
	if a.ContainerID != "containerd://a1" || !a.Ready || a.ImageID != "docker.io/img@sha256:1" || a.Image != "img:a" {
		t.Errorf("a = %+v", a)
	}
	if b.State.Waiting == nil || b.State.Waiting.Reason != reasonCrashLoopBackOff || b.RestartCount != 2 || b.Ready {
		t.Errorf("b = %+v", b)
	}
	if lt := b.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 1 || lt.ContainerID != "containerd://b2" {
		t.Errorf("b last state = %+v", b.LastTerminationState)
	}
	wantConds := map[corev1.PodConditionType]corev1.PodCondition{
		corev1.PodReadyToStartContainers: {Status: corev1.ConditionTrue},
		corev1.PodInitialized:            {Status: corev1.ConditionTrue},
		corev1.ContainersReady:           {Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: "containers with unready status: [b]"},
		corev1.PodReady:                  {Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: "containers with unready status: [b]", LastTransitionTime: earlier},
		corev1.PodScheduled:              {Status: corev1.ConditionTrue, LastTransitionTime: earlier},
	}
	if len(st.Conditions) != len(wantConds) {
		t.Errorf("conditions = %+v", st.Conditions)
	}
	for _, c := range st.Conditions {
		w := wantConds[c.Type]
		if c.Status != w.Status || c.Reason != w.Reason || c.Message != w.Message {
			t.Errorf("condition %s = %+v, want %+v", c.Type, c, w)
		}
		if !w.LastTransitionTime.IsZero() && !c.LastTransitionTime.Equal(&w.LastTransitionTime) {
			t.Errorf("condition %s transition time = %s, want kept %s", c.Type, c.LastTransitionTime, w.LastTransitionTime)
		}
	}
}

func TestComputeStatusDefaults(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "i"}},
		Containers:     []corev1.Container{{Name: "a"}},
	}}
	st := computeStatus(statusInput{pod: pod, state: &podState{containers: map[string][]*containerInfo{}}, now: time.Now()})
	if st.Phase != corev1.PodPending {
		t.Errorf("phase = %s", st.Phase)
	}
	for _, s := range append(st.InitContainerStatuses, st.ContainerStatuses...) {
		if s.State.Waiting == nil || s.State.Waiting.Reason != reasonPodInitializing {
			t.Errorf("%s = %+v", s.Name, s.State)
		}
	}
	if c := st.Conditions[0]; c.Type != corev1.PodReadyToStartContainers || c.Status != corev1.ConditionFalse {
		t.Errorf("conditions = %+v", st.Conditions)
	}
	pod.Spec.InitContainers = nil
	st = computeStatus(statusInput{pod: pod, state: &podState{containers: map[string][]*containerInfo{}}, now: time.Now()})
	if r := st.ContainerStatuses[0].State.Waiting.Reason; r != reasonContainerCreating {
		t.Errorf("reason = %s", r)
	}
}

func TestReadinessGates(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}}}
	if msg := unreadyGates(pod, nil); msg != `corresponding condition of pod readiness gate "example.com/lb" does not exist.` {
		t.Errorf("msg = %q", msg)
	}
	conds := []corev1.PodCondition{{Type: "example.com/lb", Status: corev1.ConditionTrue}}
	if msg := unreadyGates(pod, conds); msg != "" {
		t.Errorf("msg = %q", msg)
	}
}

// The kubelet writes the generation of the pod it computed the status
// from, on the status and on every condition it owns (PodScheduled
// included), and leaves the others' conditions as they were.
func TestComputeStatusObservedGeneration(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1", Generation: 3},
		Spec: corev1.PodSpec{
			RestartPolicy:  corev1.RestartPolicyAlways,
			Containers:     []corev1.Container{{Name: "a", Image: "img:a"}},
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}},
		},
		Status: corev1.PodStatus{
			ObservedGeneration: 2,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, ObservedGeneration: 1},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, ObservedGeneration: 2},
				{Type: "example.com/lb", Status: corev1.ConditionTrue, ObservedGeneration: 1},
			},
		},
	}
	state := &podState{
		sandboxes: []*sandboxInfo{{id: "s", ready: true, ip: "10.0.0.5"}},
		containers: map[string][]*containerInfo{
			"a": {{id: "a1", name: "a", state: runtimeapi.ContainerState_CONTAINER_RUNNING, startedAt: now.Add(-time.Minute)}},
		},
	}
	st := computeStatus(statusInput{pod: pod, state: state, runtimeName: "containerd", now: now})
	if st.ObservedGeneration != 3 {
		t.Errorf("status.observedGeneration = %d, want 3", st.ObservedGeneration)
	}
	want := map[corev1.PodConditionType]int64{
		corev1.PodReadyToStartContainers: 3, corev1.PodInitialized: 3, corev1.PodReady: 3,
		corev1.ContainersReady: 3, corev1.PodScheduled: 3, "example.com/lb": 1,
	}
	if len(st.Conditions) != len(want) {
		t.Errorf("conditions = %+v", st.Conditions)
	}
	for _, c := range st.Conditions {
		if g, ok := want[c.Type]; !ok || c.ObservedGeneration != g {
			t.Errorf("condition %s observedGeneration = %d, want %d", c.Type, c.ObservedGeneration, g)
		}
	}
}

// An init container that exited 0 is reported ready, as the kubelet's
// prober manager reports it; one that failed, or a sidecar that stopped,
// is not.
func TestComputeStatusCompletedInitReady(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			InitContainers: []corev1.Container{{Name: "ok"}, {Name: "failed"},
				{Name: "sidecar", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}},
			Containers: []corev1.Container{{Name: "a"}},
		},
	}
	exited := func(name string, code int32) []*containerInfo {
		return []*containerInfo{{id: name + "1", name: name, state: runtimeapi.ContainerState_CONTAINER_EXITED, exitCode: code, finishedAt: now}}
	}
	state := &podState{containers: map[string][]*containerInfo{
		"ok": exited("ok", 0), "failed": exited("failed", 1), "sidecar": exited("sidecar", 0),
	}}
	st := computeStatus(statusInput{pod: pod, state: state, runtimeName: "containerd", now: now})
	want := map[string]bool{"ok": true, "failed": false, "sidecar": false}
	for _, s := range st.InitContainerStatuses {
		if s.Ready != want[s.Name] || s.Started == nil || *s.Started {
			t.Errorf("init container %s: ready %v started %v, want ready %v and not started", s.Name, s.Ready, s.Started, want[s.Name])
		}
	}
}
