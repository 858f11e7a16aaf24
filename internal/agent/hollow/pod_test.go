package hollow

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func simPod(policy corev1.RestartPolicy, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: types.UID("uid-1")},
		Spec: corev1.PodSpec{
			NodeName:      "hollow-0",
			RestartPolicy: policy,
			Containers:    []corev1.Container{{Name: "app", Image: "img:v1"}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func cond(st corev1.PodStatus, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

// TestSimulation runs a pod from t0 to t0+at and checks the status the
// hollow kubelet reports then.
func TestSimulation(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := simConfig{runTime: time.Second, backOff: 10 * time.Second, nodeIP: "10.41.0.1", podIP: "10.42.0.2", keepGoing: true}
	tests := []struct {
		name      string
		pod       *corev1.Pod
		steps     []time.Duration // sync times after t0; the last one is checked
		deleting  bool
		phase     corev1.PodPhase
		ready     corev1.ConditionStatus
		reason    string // Ready condition reason
		exitCode  *int32
		restarts  int32
		waiting   string
		wakeAfter time.Duration // 0: no wake expected
	}{
		{name: "always, no probe: ready at once", pod: simPod(corev1.RestartPolicyAlways, nil),
			steps: []time.Duration{0}, phase: corev1.PodRunning, ready: corev1.ConditionTrue},
		{name: "readiness delay: not ready before it", pod: simPod(corev1.RestartPolicyAlways, func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{InitialDelaySeconds: 5}
		}), steps: []time.Duration{0, 4 * time.Second}, phase: corev1.PodRunning, ready: corev1.ConditionFalse, reason: "ContainersNotReady", wakeAfter: time.Second},
		{name: "readiness delay: ready after it", pod: simPod(corev1.RestartPolicyAlways, func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{InitialDelaySeconds: 5}
		}), steps: []time.Duration{0, 5 * time.Second}, phase: corev1.PodRunning, ready: corev1.ConditionTrue},
		{name: "never: running until the run time", pod: simPod(corev1.RestartPolicyNever, nil),
			steps: []time.Duration{0, 500 * time.Millisecond}, phase: corev1.PodRunning, ready: corev1.ConditionTrue, wakeAfter: 500 * time.Millisecond},
		{name: "never: succeeded after it", pod: simPod(corev1.RestartPolicyNever, nil),
			steps: []time.Duration{0, time.Second}, phase: corev1.PodSucceeded, ready: corev1.ConditionFalse, reason: "PodCompleted", exitCode: new(int32)},
		{name: "never: failed with the annotated code", pod: simPod(corev1.RestartPolicyNever, func(p *corev1.Pod) {
			p.Annotations = map[string]string{ExitCodeAnnotation: "3"}
		}), steps: []time.Duration{0, 2 * time.Second}, phase: corev1.PodFailed, ready: corev1.ConditionFalse, reason: "ContainersNotReady", exitCode: ptr.To(int32(3))},
		{name: "run time annotation", pod: simPod(corev1.RestartPolicyNever, func(p *corev1.Pod) {
			p.Annotations = map[string]string{RunTimeAnnotation: "1m"}
		}), steps: []time.Duration{0, 30 * time.Second}, phase: corev1.PodRunning, ready: corev1.ConditionTrue, wakeAfter: 30 * time.Second},
		{name: "on failure: backs off", pod: simPod(corev1.RestartPolicyOnFailure, func(p *corev1.Pod) {
			p.Annotations = map[string]string{ExitCodeAnnotation: "1"}
		}), steps: []time.Duration{0, 2 * time.Second}, phase: corev1.PodRunning, ready: corev1.ConditionFalse, reason: "ContainersNotReady", waiting: "CrashLoopBackOff", wakeAfter: 9 * time.Second},
		{name: "on failure: restarts after the back-off", pod: simPod(corev1.RestartPolicyOnFailure, func(p *corev1.Pod) {
			p.Annotations = map[string]string{ExitCodeAnnotation: "1"}
		}), steps: []time.Duration{0, 2 * time.Second, 11 * time.Second}, phase: corev1.PodRunning, ready: corev1.ConditionTrue, restarts: 1, wakeAfter: time.Second},
		{name: "on failure, exit 0: succeeded", pod: simPod(corev1.RestartPolicyOnFailure, nil),
			steps: []time.Duration{0, 3 * time.Second}, phase: corev1.PodSucceeded, ready: corev1.ConditionFalse, reason: "PodCompleted", exitCode: new(int32)},
		{name: "deleted: stopped cleanly", pod: simPod(corev1.RestartPolicyAlways, nil),
			steps: []time.Duration{0, time.Second}, deleting: true, phase: corev1.PodSucceeded, ready: corev1.ConditionFalse, reason: "PodCompleted", exitCode: new(int32)},
		{name: "active deadline: running before it", pod: simPod(corev1.RestartPolicyAlways, func(p *corev1.Pod) {
			p.Spec.ActiveDeadlineSeconds = ptr.To(int64(5))
		}), steps: []time.Duration{0, 3 * time.Second}, phase: corev1.PodRunning, ready: corev1.ConditionTrue, wakeAfter: 2 * time.Second},
		{name: "active deadline: failed at it, containers stopped", pod: simPod(corev1.RestartPolicyAlways, func(p *corev1.Pod) {
			p.Spec.ActiveDeadlineSeconds = ptr.To(int64(5))
		}), steps: []time.Duration{0, 5 * time.Second}, phase: corev1.PodFailed, ready: corev1.ConditionFalse, reason: "ContainersNotReady", exitCode: new(int32)},
		{name: "readiness gate missing", pod: simPod(corev1.RestartPolicyAlways, func(p *corev1.Pod) {
			p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}
		}), steps: []time.Duration{0}, phase: corev1.PodRunning, ready: corev1.ConditionFalse, reason: "ReadinessGatesNotReady"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := tt.pod
			run := newPodRun(pod, t0)
			var st corev1.PodStatus
			var wake time.Time
			for i, d := range tt.steps {
				now := t0.Add(d)
				c := cfg
				c.keepGoing = !(tt.deleting && i == len(tt.steps)-1)
				w1 := run.advance(pod, now, c)
				var w2 time.Time
				st, w2 = run.status(pod, now, c)
				wake = w1
				if wake.IsZero() || (!w2.IsZero() && w2.Before(wake)) {
					wake = w2
				}
				pod = pod.DeepCopy()
				pod.Status = st
			}
			last := t0.Add(tt.steps[len(tt.steps)-1])
			if st.Phase != tt.phase {
				t.Errorf("phase %s, want %s", st.Phase, tt.phase)
			}
			r := cond(st, corev1.PodReady)
			if r.Status != tt.ready || r.Reason != tt.reason {
				t.Errorf("Ready %s/%s, want %s/%s (%s)", r.Status, r.Reason, tt.ready, tt.reason, r.Message)
			}
			if st.PodIP != cfg.podIP || st.HostIP != cfg.nodeIP || st.StartTime == nil || !st.StartTime.Time.Equal(t0) {
				t.Errorf("podIP %s hostIP %s startTime %v", st.PodIP, st.HostIP, st.StartTime)
			}
			if st.QOSClass != corev1.PodQOSBestEffort || cond(st, corev1.PodScheduled).Status != corev1.ConditionTrue {
				t.Errorf("lost qosClass or PodScheduled: %+v", st)
			}
			cs := st.ContainerStatuses[0]
			switch {
			case tt.exitCode != nil:
				if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != *tt.exitCode {
					t.Errorf("state %+v, want terminated %d", cs.State, *tt.exitCode)
				}
			case tt.waiting != "":
				if cs.State.Waiting == nil || cs.State.Waiting.Reason != tt.waiting || cs.LastTerminationState.Terminated == nil {
					t.Errorf("state %+v last %+v, want waiting %s", cs.State, cs.LastTerminationState, tt.waiting)
				}
			default:
				if cs.State.Running == nil {
					t.Errorf("state %+v, want running", cs.State)
				}
			}
			if cs.RestartCount != tt.restarts {
				t.Errorf("restartCount %d, want %d", cs.RestartCount, tt.restarts)
			}
			var gotWake time.Duration
			if !wake.IsZero() {
				gotWake = wake.Sub(last)
			}
			if gotWake != tt.wakeAfter {
				t.Errorf("wake after %s, want %s", gotWake, tt.wakeAfter)
			}
		})
	}
}

// A status that did not change keeps its conditions' transition times, so
// a second sync writes nothing.
func TestStatusIsStable(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := simConfig{runTime: time.Second, backOff: time.Second, nodeIP: "10.41.0.1", podIP: "10.42.0.2", keepGoing: true}
	pod := simPod(corev1.RestartPolicyAlways, nil)
	run := newPodRun(pod, t0)
	run.advance(pod, t0, cfg)
	st, _ := run.status(pod, t0, cfg)
	pod.Status = st
	run.advance(pod, t0.Add(time.Minute), cfg)
	again, _ := run.status(pod, t0.Add(time.Minute), cfg)
	if diff := statusDiff(st, again); diff != "" {
		t.Errorf("status changed with nothing happening: %s", diff)
	}
}

func statusDiff(a, b corev1.PodStatus) string {
	if len(a.Conditions) != len(b.Conditions) {
		return "conditions"
	}
	for i := range a.Conditions {
		if a.Conditions[i] != b.Conditions[i] {
			return string(a.Conditions[i].Type)
		}
	}
	if a.ContainerStatuses[0].State.Running.StartedAt != b.ContainerStatuses[0].State.Running.StartedAt {
		return "startedAt"
	}
	return ""
}

func TestIPAllocator(t *testing.T) {
	a := newIPAllocator(netip.MustParsePrefix("10.42.3.0/29"))
	var got []string
	for i := range 5 {
		ip, err := a.allocate(types.UID(rune('a' + i)))
		if err != nil {
			t.Fatalf("allocate %d: %v", i, err)
		}
		got = append(got, ip.String())
	}
	want := []string{"10.42.3.2", "10.42.3.3", "10.42.3.4", "10.42.3.5", "10.42.3.6"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("addresses %v, want %v", got, want)
		}
	}
	if _, err := a.allocate("f"); err == nil {
		t.Errorf("allocated past the end of a /29")
	}
	if ip, _ := a.allocate("a"); ip.String() != "10.42.3.2" {
		t.Errorf("second allocation for a pod gave %s", ip)
	}
	a.release("c")
	if ip, err := a.allocate("g"); err != nil || ip.String() != "10.42.3.4" {
		t.Errorf("after release got %s %v", ip, err)
	}
}

func TestOptionsCIDRs(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		mask    int
		third   string // node 2's CIDR
		thirdIP string
		wantErr bool
	}{
		{name: "defaults", opts: Options{Count: 3}, mask: 24, third: "10.42.2.0/24", thirdIP: "127.41.0.3"},
		{name: "1000 nodes shrink the node CIDRs", opts: Options{Count: 1000}, mask: 26, third: "10.42.0.128/26", thirdIP: "127.41.0.3"},
		{name: "given names", opts: Options{Names: []string{"a", "b", "c"}, ClusterCIDR: netip.MustParsePrefix("10.0.0.0/8")}, mask: 24, third: "10.0.2.0/24", thirdIP: "127.41.0.3"},
		{name: "duplicate names", opts: Options{Names: []string{"a", "a"}}, wantErr: true},
		{name: "too small", opts: Options{Count: 10, ClusterCIDR: netip.MustParsePrefix("10.0.0.0/30")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := tt.opts.withDefaults()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if o.NodeCIDRMaskSize != tt.mask {
				t.Errorf("mask %d, want %d", o.NodeCIDRMaskSize, tt.mask)
			}
			if got := nodeCIDR(o.ClusterCIDR, o.NodeCIDRMaskSize, 2).String(); got != tt.third {
				t.Errorf("node 2 CIDR %s, want %s", got, tt.third)
			}
			if got := nthAddr(o.NodeIPRange, 3).String(); got != tt.thirdIP {
				t.Errorf("node 2 IP %s, want %s", got, tt.thirdIP)
			}
			if q := o.Capacity[corev1.ResourcePods]; q.String() != "110" {
				t.Errorf("pods capacity %s", q.String())
			}
		})
	}
}

// sim runs pod on a simulated node at each of steps after t0, as the sync
// does, and returns the last status and the events queued on the way.
func sim(pod *corev1.Pod, t0 time.Time, steps ...time.Duration) (corev1.PodStatus, []podEvent) {
	cfg := simConfig{runTime: time.Second, backOff: 10 * time.Second, nodeIP: "10.41.0.1", podIP: "10.42.0.2", keepGoing: true}
	run := newPodRun(pod, t0)
	var st corev1.PodStatus
	var evs []podEvent
	for _, d := range steps {
		now := t0.Add(d)
		cfg.keepGoing = pod.DeletionTimestamp == nil
		run.advance(pod, now, cfg)
		evs = append(evs, run.takeEvents()...)
		st, _ = run.status(pod, now, cfg)
		pod = pod.DeepCopy()
		pod.Status = st
	}
	return st, evs
}

func eventStrings(evs []podEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s %s %s: %s", e.fieldPath, e.eventType, e.reason, e.message))
	}
	return out
}

// A pod past its activeDeadlineSeconds fails as the kubelet fails it: its
// containers stopped, the kubelet's reason and message, its events.
func TestActiveDeadline(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pod := simPod(corev1.RestartPolicyAlways, func(p *corev1.Pod) {
		p.Spec.ActiveDeadlineSeconds = ptr.To(int64(2))
		p.Spec.InitContainers = []corev1.Container{{Name: "proxy", Image: "proxy:v1", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}}
	})
	st, evs := sim(pod, t0, 0, time.Second, 2*time.Second, 3*time.Second)
	if st.Phase != corev1.PodFailed || st.Reason != "DeadlineExceeded" || st.Message != "Pod was active on the node longer than the specified deadline" {
		t.Errorf("phase %s reason %q message %q", st.Phase, st.Reason, st.Message)
	}
	for _, s := range append(st.InitContainerStatuses, st.ContainerStatuses...) {
		if s.State.Terminated == nil || s.Ready {
			t.Errorf("container %s: state %+v ready %v, want stopped", s.Name, s.State, s.Ready)
		}
	}
	if c := cond(st, corev1.PodReadyToStartContainers); c.Status != corev1.ConditionFalse {
		t.Errorf("PodReadyToStartContainers %s", c.Status)
	}
	got := eventStrings(evs)
	want := []string{
		` Normal DeadlineExceeded: Pod was active on the node longer than the specified deadline`,
		`spec.containers{app} Normal Killing: Stopping container app`,
		`spec.initContainers{proxy} Normal Killing: Stopping container proxy`,
	}
	if len(got) < len(want) || !slices.Equal(got[len(got)-len(want):], want) {
		t.Errorf("events end with\n %q\nwant\n %q", got, want)
	}
}

// The kubelet's container events, in its words: the image, Created,
// Started, for every container and every restart; Killing when the pod is
// deleted.
func TestContainerEvents(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pod := simPod(corev1.RestartPolicyOnFailure, func(p *corev1.Pod) {
		p.Annotations = map[string]string{ExitCodeAnnotation: "1"}
		p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "setup:v1", ImagePullPolicy: corev1.PullAlways}}
		p.Spec.Containers[0].ImagePullPolicy = corev1.PullIfNotPresent
	})
	// Runs 1s, fails, backs off 10s, runs again.
	_, evs := sim(pod, t0, 0, 2*time.Second, 11*time.Second)
	want := []string{
		`spec.initContainers{setup} Normal Pulling: Pulling image "setup:v1"`,
		`spec.initContainers{setup} Normal Pulled: Successfully pulled image "setup:v1" in 0s (0s including waiting).`,
		`spec.initContainers{setup} Normal Created: Container created`,
		`spec.initContainers{setup} Normal Started: Container started`,
		`spec.containers{app} Normal Pulled: Container image "img:v1" already present on machine and can be accessed by the pod`,
		`spec.containers{app} Normal Created: Container created`,
		`spec.containers{app} Normal Started: Container started`,
		`spec.containers{app} Normal Pulled: Container image "img:v1" already present on machine and can be accessed by the pod`,
		`spec.containers{app} Normal Created: Container created`,
		`spec.containers{app} Normal Started: Container started`,
	}
	if got := eventStrings(evs); !slices.Equal(got, want) {
		t.Errorf("events\n %q\nwant\n %q", got, want)
	}

	deleting := simPod(corev1.RestartPolicyAlways, nil)
	cfg := simConfig{runTime: time.Second, backOff: time.Second, keepGoing: true}
	run := newPodRun(deleting, t0)
	run.advance(deleting, t0, cfg)
	run.takeEvents()
	cfg.keepGoing = false
	run.advance(deleting, t0.Add(time.Second), cfg)
	if got, want := eventStrings(run.takeEvents()), []string{`spec.containers{app} Normal Killing: Stopping container app`}; !slices.Equal(got, want) {
		t.Errorf("deletion events %q, want %q", got, want)
	}

	// A node that picks up a pod it already ran (its process restarted)
	// does not announce the containers again.
	st, _ := sim(simPod(corev1.RestartPolicyAlways, nil), t0, 0)
	again := simPod(corev1.RestartPolicyAlways, nil)
	again.Status = st
	if evs := newPodRun(again, t0.Add(time.Minute)).takeEvents(); len(evs) != 0 {
		t.Errorf("events for a running pod picked up: %q", eventStrings(evs))
	}
}

// An init container that ran to completion is reported terminated with
// exit code 0 and ready, not started, as the kubelet reports it.
func TestInitContainersReady(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st, _ := sim(simPod(corev1.RestartPolicyAlways, func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "init-1", Image: "busybox"}, {Name: "init-2", Image: "busybox"}}
	}), t0, 0)
	if len(st.InitContainerStatuses) != 2 {
		t.Fatalf("init statuses %+v", st.InitContainerStatuses)
	}
	for _, s := range st.InitContainerStatuses {
		if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 || s.State.Terminated.Reason != "Completed" || !s.Ready || s.Started == nil || *s.Started {
			t.Errorf("%s: state %+v ready %v started %v", s.Name, s.State, s.Ready, s.Started)
		}
	}
	if c := cond(st, corev1.PodInitialized); c.Status != corev1.ConditionTrue {
		t.Errorf("Initialized %s", c.Status)
	}
}

// The status observes the generation of the pod it was computed from, on
// itself and on every condition the kubelet owns; the others' conditions
// keep theirs.
func TestObservedGeneration(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pod := simPod(corev1.RestartPolicyAlways, func(p *corev1.Pod) {
		p.Generation = 1
		p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: "example.com/lb", Status: corev1.ConditionTrue, ObservedGeneration: 1})
	})
	cfg := simConfig{runTime: time.Second, backOff: time.Second, keepGoing: true}
	run := newPodRun(pod, t0)
	run.advance(pod, t0, cfg)
	st, _ := run.status(pod, t0, cfg)
	pod.Status = st
	// activeDeadlineSeconds set: the generation bumps.
	pod = pod.DeepCopy()
	pod.Generation = 2
	pod.Spec.ActiveDeadlineSeconds = ptr.To(int64(5000))
	run.advance(pod, t0.Add(time.Second), cfg)
	st, _ = run.status(pod, t0.Add(time.Second), cfg)
	if st.ObservedGeneration != 2 {
		t.Errorf("status.observedGeneration %d, want 2", st.ObservedGeneration)
	}
	want := map[corev1.PodConditionType]int64{
		corev1.PodReadyToStartContainers: 2, corev1.PodInitialized: 2, corev1.PodReady: 2,
		corev1.ContainersReady: 2, corev1.PodScheduled: 2, "example.com/lb": 1,
	}
	if len(st.Conditions) != len(want) {
		t.Errorf("conditions %+v", st.Conditions)
	}
	for _, c := range st.Conditions {
		if g, ok := want[c.Type]; !ok || c.ObservedGeneration != g {
			t.Errorf("condition %s observedGeneration %d, want %d", c.Type, c.ObservedGeneration, g)
		}
	}
}
