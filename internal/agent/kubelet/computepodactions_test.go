package kubelet

import (
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

// actionsSummary is podActions in short: containers as "name#restartCount"
// to start and "name:reason" to kill.
type actionsSummary struct {
	killPod       bool
	why           podKillReason
	grace         int64
	createSandbox bool
	attempt       uint32
	kill          []string
	initStart     []string
	initializing  bool
	start         []string
	ephemeral     []string
	notRestarted  []string
}

func summarize(a podActions) actionsSummary {
	s := actionsSummary{
		killPod: a.killPod, why: a.why, grace: a.grace, createSandbox: a.createSandbox, attempt: a.attempt,
		initializing: a.initializing, notRestarted: a.notRestarted,
	}
	for _, k := range a.containersToKill {
		s.kill = append(s.kill, fmt.Sprintf("%s:%s", k.spec.Name, map[killReason]string{killedLiveness: "liveness", killedStartup: "startup", killedSpec: "spec"}[k.reason]))
	}
	starts := func(l []containerStart) []string {
		var out []string
		for _, c := range l {
			n := 0
			if c.prev != nil {
				n = c.prev.attempt + 1
			}
			out = append(out, fmt.Sprintf("%s#%d", c.spec.Name, n))
		}
		return out
	}
	s.initStart, s.start, s.ephemeral = starts(a.initToStart), starts(a.containersToStart), starts(a.ephemeralToStart)
	return s
}

// Instances of containers, as the runtime reports them.
func runningCI(name string, attempt int) *containerInfo {
	return &containerInfo{id: fmt.Sprintf("%s-%d", name, attempt), name: name, attempt: attempt, state: runtimeapi.ContainerState_CONTAINER_RUNNING,
		hash: containerHash(&corev1.Container{Image: "skiff/app:v1"})}
}

func exitedCI(name string, attempt int, code int32) *containerInfo {
	ci := runningCI(name, attempt)
	ci.state, ci.exitCode = runtimeapi.ContainerState_CONTAINER_EXITED, code
	return ci
}

func withState(sb *sandboxInfo, instances ...*containerInfo) *podState {
	st := &podState{containers: map[string][]*containerInfo{}}
	if sb != nil {
		st.sandboxes = []*sandboxInfo{sb}
	}
	for _, ci := range instances {
		st.containers[ci.name] = append(st.containers[ci.name], ci)
	}
	return st
}

func readySandbox(attempt uint32) *sandboxInfo {
	return &sandboxInfo{id: fmt.Sprintf("sb%d", attempt), ready: true, attempt: attempt, ip: "10.244.1.2"}
}

func deadSandbox(attempt uint32) *sandboxInfo {
	sb := readySandbox(attempt)
	sb.ready = false
	return sb
}

type podOption func(*corev1.Pod)

func policy(p corev1.RestartPolicy) podOption {
	return func(pod *corev1.Pod) { pod.Spec.RestartPolicy = p }
}

func initContainers(names ...string) podOption {
	return func(pod *corev1.Pod) {
		for _, n := range names {
			pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: n, Image: "skiff/app:v1"})
		}
	}
}

// sidecar makes the init container of the name a sidecar (with a startup
// probe when probed).
func sidecar(name string, probed bool) podOption {
	return func(pod *corev1.Pod) {
		for i := range pod.Spec.InitContainers {
			if c := &pod.Spec.InitContainers[i]; c.Name == name {
				c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
				if probed {
					c.StartupProbe = &corev1.Probe{}
				}
			}
		}
	}
}

func debugger(name string) podOption {
	return func(pod *corev1.Pod) {
		pod.Spec.EphemeralContainers = append(pod.Spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: "skiff/debug:v1"}, TargetContainerName: "app"})
	}
}

func startupProbe(pod *corev1.Pod) { pod.Spec.Containers[0].StartupProbe = &corev1.Probe{} }

func testPod(opts ...podOption) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "uid-1"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyAlways,
			Containers:    []corev1.Container{{Name: "app", Image: "skiff/app:v1"}},
		},
	}
	for _, o := range opts {
		o(pod)
	}
	return pod
}

func TestComputePodActions(t *testing.T) {
	failedLiveness := probeResults{"app-0": {liveness: probeFailure}}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		state    *podState
		probes   probeResults
		killed   map[string]killReason
		finished bool
		want     actionsSummary
	}{
		// The sandbox.
		{name: "new pod: a sandbox first",
			pod: testPod(), state: withState(nil),
			want: actionsSummary{createSandbox: true}},
		{name: "sandbox gone: kill all, a new sandbox with the next attempt",
			pod: testPod(), state: withState(deadSandbox(2), runningCI("app", 0)),
			want: actionsSummary{killPod: true, why: podSandboxChanged, createSandbox: true, attempt: 3}},
		{name: "sandbox gone, OnFailure: a new sandbox",
			pod: testPod(policy(corev1.RestartPolicyOnFailure)), state: withState(deadSandbox(0), exitedCI("app", 0, 0)),
			want: actionsSummary{killPod: true, why: podSandboxChanged, createSandbox: true, attempt: 1}},
		{name: "sandbox gone, Never, containers ran: the pod is over",
			pod: testPod(policy(corev1.RestartPolicyNever)), state: withState(deadSandbox(0), runningCI("app", 0)),
			want: actionsSummary{killPod: true, why: podNeverRestarted}},
		{name: "sandbox gone, Never, nothing ran yet: a new sandbox",
			pod: testPod(policy(corev1.RestartPolicyNever)), state: withState(deadSandbox(0)),
			want: actionsSummary{killPod: true, why: podSandboxChanged, createSandbox: true, attempt: 1}},
		{name: "in the new sandbox the killed container restarts, counted",
			pod:   testPod(),
			state: &podState{sandboxes: []*sandboxInfo{readySandbox(1), deadSandbox(0)}, containers: map[string][]*containerInfo{"app": {exitedCI("app", 0, 137)}}},
			want:  actionsSummary{start: []string{"app#1"}}},

		// Main containers and the restart policy.
		{name: "first start",
			pod: testPod(), state: withState(readySandbox(0)),
			want: actionsSummary{initializing: true, start: []string{"app#0"}}},
		{name: "running: nothing to do",
			pod: testPod(), state: withState(readySandbox(0), runningCI("app", 0)),
			want: actionsSummary{}},
		{name: "Always, exit 0: restarted",
			pod: testPod(), state: withState(readySandbox(0), exitedCI("app", 0, 0)),
			want: actionsSummary{start: []string{"app#1"}}},
		{name: "Always, exit 1: restarted",
			pod: testPod(), state: withState(readySandbox(0), exitedCI("app", 3, 1)),
			want: actionsSummary{start: []string{"app#4"}}},
		{name: "OnFailure, exit 0: stays stopped",
			pod: testPod(policy(corev1.RestartPolicyOnFailure)), state: withState(readySandbox(0), exitedCI("app", 0, 0)),
			want: actionsSummary{notRestarted: []string{"app"}}},
		{name: "OnFailure, exit 1: restarted",
			pod: testPod(policy(corev1.RestartPolicyOnFailure)), state: withState(readySandbox(0), exitedCI("app", 0, 1)),
			want: actionsSummary{start: []string{"app#1"}}},
		{name: "Never, exit 0: stays stopped",
			pod: testPod(policy(corev1.RestartPolicyNever)), state: withState(readySandbox(0), exitedCI("app", 0, 0)),
			want: actionsSummary{notRestarted: []string{"app"}}},
		{name: "Never, exit 1: stays stopped",
			pod: testPod(policy(corev1.RestartPolicyNever)), state: withState(readySandbox(0), exitedCI("app", 0, 1)),
			want: actionsSummary{notRestarted: []string{"app"}}},
		{name: "OnFailure, exit 0 after a liveness kill: restarted",
			pod: testPod(policy(corev1.RestartPolicyOnFailure)), state: withState(readySandbox(0), exitedCI("app", 0, 0)),
			killed: map[string]killReason{"app-0": killedLiveness},
			want:   actionsSummary{start: []string{"app#1"}}},
		{name: "Never, after a kill for a new spec: restarted",
			pod: testPod(policy(corev1.RestartPolicyNever)), state: withState(readySandbox(0), exitedCI("app", 0, 143)),
			killed: map[string]killReason{"app-0": killedSpec},
			want:   actionsSummary{start: []string{"app#1"}}},

		// Init containers.
		{name: "init containers run one at a time, in order",
			pod: testPod(initContainers("one", "two")), state: withState(readySandbox(0)),
			want: actionsSummary{initializing: true, initStart: []string{"one#0"}}},
		{name: "the next init container after one succeeded",
			pod: testPod(initContainers("one", "two")), state: withState(readySandbox(0), exitedCI("one", 0, 0)),
			want: actionsSummary{initializing: true, initStart: []string{"two#0"}}},
		{name: "an init container running: wait",
			pod: testPod(initContainers("one", "two")), state: withState(readySandbox(0), runningCI("one", 0)),
			want: actionsSummary{initializing: true}},
		{name: "all init containers done: the containers start",
			pod: testPod(initContainers("one", "two")), state: withState(readySandbox(0), exitedCI("one", 0, 0), exitedCI("two", 0, 0)),
			want: actionsSummary{initializing: true, start: []string{"app#0"}}},
		{name: "failed init container, Always: restarted, nothing after it",
			pod: testPod(initContainers("one", "two")), state: withState(readySandbox(0), exitedCI("one", 0, 1)),
			want: actionsSummary{initializing: true, initStart: []string{"one#1"}}},
		{name: "failed init container, OnFailure: restarted",
			pod: testPod(policy(corev1.RestartPolicyOnFailure), initContainers("one")), state: withState(readySandbox(0), exitedCI("one", 1, 2)),
			want: actionsSummary{initializing: true, initStart: []string{"one#2"}}},
		{name: "failed init container, Never: not restarted, nothing starts",
			pod: testPod(policy(corev1.RestartPolicyNever), initContainers("one", "two")), state: withState(readySandbox(0), exitedCI("one", 0, 1)),
			want: actionsSummary{initializing: true, notRestarted: []string{"one"}}},
		{name: "init containers do not run again once a container ran",
			pod: testPod(initContainers("one")), state: withState(readySandbox(0), exitedCI("app", 0, 1)),
			want: actionsSummary{start: []string{"app#1"}}},

		// Sidecars (restartable init containers).
		{name: "a sidecar starts in its place, the next init container after it",
			pod:   testPod(initContainers("setup", "proxy", "migrate"), sidecar("proxy", false)),
			state: withState(readySandbox(0), exitedCI("setup", 0, 0)),
			want:  actionsSummary{initializing: true, initStart: []string{"proxy#0", "migrate#0"}}},
		{name: "a sidecar with a startup probe is waited for",
			pod:   testPod(initContainers("proxy", "migrate"), sidecar("proxy", true)),
			state: withState(readySandbox(0)),
			want:  actionsSummary{initializing: true, initStart: []string{"proxy#0"}}},
		{name: "a sidecar not started yet blocks the containers",
			pod:   testPod(initContainers("proxy"), sidecar("proxy", true)),
			state: withState(readySandbox(0), runningCI("proxy", 0)),
			want:  actionsSummary{initializing: true}},
		{name: "a started sidecar lets the containers start",
			pod:    testPod(initContainers("proxy"), sidecar("proxy", true)),
			state:  withState(readySandbox(0), runningCI("proxy", 0)),
			probes: probeResults{"proxy-0": {startup: probeSuccess}},
			want:   actionsSummary{initializing: true, start: []string{"app#0"}}},
		{name: "a sidecar without a startup probe: the containers start with it",
			pod:   testPod(initContainers("proxy"), sidecar("proxy", false)),
			state: withState(readySandbox(0)),
			want:  actionsSummary{initializing: true, initStart: []string{"proxy#0"}, start: []string{"app#0"}}},
		{name: "a sidecar that exited is restarted, whatever the policy",
			pod:   testPod(policy(corev1.RestartPolicyNever), initContainers("proxy"), sidecar("proxy", false)),
			state: withState(readySandbox(0), exitedCI("proxy", 0, 1), runningCI("app", 0)),
			want:  actionsSummary{initStart: []string{"proxy#1"}}},

		// Probes.
		{name: "liveness failure, Always: killed and restarted",
			pod: testPod(), state: withState(readySandbox(0), runningCI("app", 0)), probes: failedLiveness,
			want: actionsSummary{kill: []string{"app:liveness"}, start: []string{"app#1"}}},
		{name: "liveness failure, OnFailure: killed and restarted",
			pod: testPod(policy(corev1.RestartPolicyOnFailure)), state: withState(readySandbox(0), runningCI("app", 0)), probes: failedLiveness,
			want: actionsSummary{kill: []string{"app:liveness"}, start: []string{"app#1"}}},
		{name: "liveness failure, Never: killed, not restarted",
			pod: testPod(policy(corev1.RestartPolicyNever)), state: withState(readySandbox(0), runningCI("app", 0)), probes: failedLiveness,
			want: actionsSummary{kill: []string{"app:liveness"}, notRestarted: []string{"app"}}},
		{name: "liveness failure of a sidecar: killed and restarted",
			pod:    testPod(initContainers("proxy"), sidecar("proxy", false)),
			state:  withState(readySandbox(0), runningCI("proxy", 0), runningCI("app", 0)),
			probes: probeResults{"proxy-0": {liveness: probeFailure}},
			want:   actionsSummary{kill: []string{"proxy:liveness"}, initStart: []string{"proxy#1"}}},
		{name: "startup probe not passed yet: running on",
			pod: testPod(startupProbe), state: withState(readySandbox(0), runningCI("app", 0)),
			probes: probeResults{"app-0": {liveness: probeSuccess, startup: probeUnknown}},
			want:   actionsSummary{}},
		{name: "startup probe failed: killed and restarted",
			pod: testPod(startupProbe), state: withState(readySandbox(0), runningCI("app", 0)),
			probes: probeResults{"app-0": {startup: probeFailure}},
			want:   actionsSummary{kill: []string{"app:startup"}, start: []string{"app#1"}}},
		{name: "a failed verdict of an earlier instance does not count",
			pod: testPod(), state: withState(readySandbox(0), runningCI("app", 1)), probes: failedLiveness,
			want: actionsSummary{}},

		// A changed spec.
		{name: "image changed: killed and restarted, even under Never",
			pod:   testPod(policy(corev1.RestartPolicyNever), func(p *corev1.Pod) { p.Spec.Containers[0].Image = "skiff/app:v2" }),
			state: withState(readySandbox(0), runningCI("app", 0)),
			want:  actionsSummary{kill: []string{"app:spec"}, start: []string{"app#1"}}},
		{name: "no hash recorded: kept",
			pod:   testPod(func(p *corev1.Pod) { p.Spec.Containers[0].Image = "skiff/app:v2" }),
			state: withState(readySandbox(0), func() *containerInfo { ci := runningCI("app", 0); ci.hash = ""; return ci }()),
			want:  actionsSummary{}},

		// Ephemeral containers (kubectl debug).
		{name: "an ephemeral container added to a running pod starts",
			pod: testPod(debugger("debug")), state: withState(readySandbox(0), runningCI("app", 0)),
			want: actionsSummary{ephemeral: []string{"debug#0"}}},
		{name: "an ephemeral container starts while the pod initializes",
			pod: testPod(initContainers("setup"), debugger("debug")), state: withState(readySandbox(0), runningCI("setup", 0)),
			want: actionsSummary{initializing: true, ephemeral: []string{"debug#0"}}},
		{name: "an ephemeral container that exited is never restarted",
			pod: testPod(debugger("debug")), state: withState(readySandbox(0), runningCI("app", 0), exitedCI("debug", 0, 1)),
			want: actionsSummary{}},
		{name: "no sandbox: the sandbox first, not the ephemeral container",
			pod: testPod(debugger("debug")), state: withState(nil),
			want: actionsSummary{createSandbox: true}},

		// The end of a pod.
		{name: "deleted: kill all within the deletion's grace, start nothing",
			pod: testPod(func(p *corev1.Pod) {
				p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &metav1.Time{}, ptr.To(int64(7))
			}),
			state: withState(readySandbox(0), exitedCI("app", 0, 1)),
			want:  actionsSummary{killPod: true, why: podDeleted, grace: 7}},
		{name: "deleted with its sandbox gone: no new sandbox",
			pod:   testPod(func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }),
			state: withState(deadSandbox(0), runningCI("app", 0)),
			want:  actionsSummary{killPod: true, why: podDeleted, grace: defaultGracePeriod}},
		{name: "Succeeded: what runs is stopped, nothing restarts",
			pod:   testPod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
			state: withState(readySandbox(0), exitedCI("app", 0, 0)),
			want:  actionsSummary{killPod: true, why: podFinished, grace: defaultGracePeriod}},
		{name: "finished by this kubelet before the informer says so",
			pod: testPod(), state: withState(readySandbox(0), exitedCI("app", 0, 1)), finished: true,
			want: actionsSummary{killPod: true, why: podFinished, grace: defaultGracePeriod}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarize(computePodActions(tt.pod, tt.state, tt.probes, tt.killed, tt.finished))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// Killing events say why, as the kubelet's do.
func TestComputePodActionsKillMessages(t *testing.T) {
	pod := testPod(func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "web", Image: "skiff/app:v2"})
	})
	web := runningCI("web", 0)
	acts := computePodActions(pod, withState(readySandbox(0), runningCI("app", 0), web), probeResults{"app-0": {liveness: probeFailure}}, nil, false)
	var got []string
	for _, k := range acts.containersToKill {
		got = append(got, k.message)
	}
	want := []string{"Container app failed liveness probe, will be restarted", "Container web definition changed, will be restarted"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("messages = %q, want %q", got, want)
	}
}
